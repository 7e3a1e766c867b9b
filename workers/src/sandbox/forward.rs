//! The way from a confined command's own network namespace to the
//! worker's proxy ([`super::proxy`]), for a plugin server granted named
//! hosts. The launcher, in the new namespace, brings loopback up, listens
//! on [`PROXY_ADDRESS`] and starts `studio-worker sandbox-forward`
//! ([`open`]) before it builds the command's root: that process works in
//! the directory of the proxy's socket, which the command's root never
//! shows, and copies each connection made to it to that socket
//! ([`run`]). It is not under the command's Landlock domain, so the
//! command can neither signal nor trace it, and it dies with the command.

use std::ffi::OsStr;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{ExitCode, Stdio};

/// Where the command finds the proxy, inside its own namespace.
pub const PROXY_ADDRESS: &str = "127.0.0.1:3128";

/// The variables that point clients at the proxy (Node reads them with
/// `NODE_USE_ENV_PROXY=1`, from Node 22.21 and 24).
pub fn proxy_env() -> Vec<(&'static str, String)> {
    let url = format!("http://{PROXY_ADDRESS}");
    let mut env: Vec<(&'static str, String)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, url.clone()))
    .collect();
    env.push(("NODE_USE_ENV_PROXY", "1".to_owned()));
    env
}

/// In the command's new network namespace, before its root is built:
/// loopback up, [`PROXY_ADDRESS`] listened on, and the forwarder started
/// in `socket`'s directory.
pub fn open(socket: &Path) -> Result<(), String> {
    loopback_up().map_err(|err| format!("cannot bring loopback up: {err}"))?;
    let listener = TcpListener::bind(PROXY_ADDRESS)
        .map_err(|err| format!("cannot listen on {PROXY_ADDRESS}: {err}"))?;
    let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) else {
        return Err(format!("no proxy socket at {}", socket.display()));
    };
    let parent = rustix::process::getpid().as_raw_nonzero().to_string();
    studio_process::std_command("/proc/self/exe", studio_process::ChildEnv::Only(&[]))
        .arg("sandbox-forward")
        .arg("--parent")
        .arg(parent)
        .arg(name)
        .current_dir(dir)
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot start the proxy's forwarder: {err}"))?;
    Ok(())
}

/// `studio-worker sandbox-forward --parent PID NAME`: accepts on the
/// listener it was given as stdin and copies each connection to the Unix
/// socket `NAME` in its working directory, until `PID` is gone.
pub fn run(parent: u32, socket: &OsStr) -> ExitCode {
    use rustix::process::{Signal, getppid, set_parent_process_death_signal};
    if set_parent_process_death_signal(Some(Signal::KILL)).is_err()
        || getppid().map(|pid| pid.as_raw_nonzero().get()) != i32::try_from(parent).ok()
    {
        return ExitCode::FAILURE;
    }
    use std::os::fd::AsFd;
    let Ok(listener) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return ExitCode::FAILURE;
    };
    let listener = TcpListener::from(listener);
    while let Ok((client, _)) = listener.accept() {
        let socket = socket.to_owned();
        std::thread::spawn(move || {
            if let Ok(proxy) = UnixStream::connect(&socket) {
                copy_both_ways(client, proxy);
            }
        });
    }
    ExitCode::FAILURE
}

fn copy_both_ways(client: TcpStream, proxy: UnixStream) {
    let (Ok(mut client_in), Ok(mut proxy_out)) = (client.try_clone(), proxy.try_clone()) else {
        return;
    };
    let upward = std::thread::spawn(move || {
        let _ = io::copy(&mut client_in, &mut proxy_out);
        let _ = proxy_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut proxy_in, mut client_out) = (proxy, client);
    let _ = io::copy(&mut proxy_in, &mut client_out);
    let _ = client_out.shutdown(std::net::Shutdown::Write);
    let _ = upward.join();
}

/// `lo` up in this network namespace (new ones have it down).
fn loopback_up() -> io::Result<()> {
    use rustix::ioctl::{Updater, ioctl};
    const SIOCGIFFLAGS: rustix::ioctl::Opcode = 0x8913;
    const SIOCSIFFLAGS: rustix::ioctl::Opcode = 0x8914;
    const IFF_UP: i16 = 0x1;
    /// `struct ifreq` with its `ifr_flags`.
    #[repr(C)]
    struct InterfaceFlags {
        name: [u8; 16],
        flags: i16,
        _rest: [u8; 22],
    }
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    let mut request = InterfaceFlags {
        name: *b"lo\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        flags: 0,
        _rest: [0; 22],
    };
    #[expect(
        unsafe_code,
        reason = "SIOCGIFFLAGS and SIOCSIFFLAGS take a struct ifreq"
    )]
    // SAFETY: both opcodes read and write a `struct ifreq`, which
    // `InterfaceFlags` lays out (name, then the flags of its union, padded
    // to the union's size).
    unsafe {
        ioctl(&socket, Updater::<SIOCGIFFLAGS, _>::new(&mut request))?;
        request.flags |= IFF_UP;
        ioctl(&socket, Updater::<SIOCSIFFLAGS, _>::new(&mut request))?;
    }
    Ok(())
}
