//! Frames: a little-endian u32 payload length, then a bincode payload.
//!
//! Framing is kept apart from meaning: [`read_frame`] returns `Ok(None)` on
//! a clean close between frames, and an error for a half frame, a length
//! over [`MAX_FRAME_LEN`], or a payload that does not decode into exactly
//! the expected message. Callers close the connection on any error: after
//! a bad frame the stream cannot be trusted to be in sync.

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest payload accepted or produced, in bytes (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

const HEADER_LEN: usize = 4;

/// bincode's standard (varint) encoding, refusing to decode anything that
/// claims more memory than a frame can hold.
const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_FRAME_LEN>,
> = bincode::config::standard().with_limit::<MAX_FRAME_LEN>();

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The underlying stream failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The length prefix is over the limit; nothing was read past it.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced or encoded payload length.
        len: usize,
        /// [`MAX_FRAME_LEN`].
        max: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed mid-frame after {got} of {expected} bytes")]
    Truncated {
        /// Bytes the frame needed (header included).
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// The payload is not a valid encoding of the expected message.
    #[error("malformed frame: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// The payload decoded but left bytes over.
    #[error("malformed frame: {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// The message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(#[from] bincode::error::EncodeError),
}

/// Appends `msg` as one frame (header and payload) to `out`.
pub fn encode_frame_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    let written = bincode::serde::encode_into_std_write(msg, out, CONFIG);
    let len = match written {
        Ok(len) => len,
        Err(err) => {
            out.truncate(start);
            return Err(err.into());
        }
    };
    if len > MAX_FRAME_LEN {
        out.truncate(start);
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let header = u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes();
    out[start..start + HEADER_LEN].copy_from_slice(&header);
    Ok(())
}

/// `msg` as one frame (header and payload).
pub fn encode_frame<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame_into(msg, &mut out)?;
    Ok(out)
}

/// `msg` encoded as a payload without a header, for storing it.
pub fn encode_payload<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let payload = bincode::serde::encode_to_vec(msg, CONFIG)?;
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME_LEN,
        });
    }
    Ok(payload)
}

/// Decodes a payload (without its header) into exactly one message.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (msg, used) = bincode::serde::decode_from_slice(payload, CONFIG)?;
    if used != payload.len() {
        return Err(FrameError::TrailingBytes(payload.len() - used));
    }
    Ok(msg)
}

/// Writes `msg` as one frame. Does not flush.
pub async fn write_frame<W, T>(writer: &mut W, msg: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let frame = encode_frame(msg)?;
    writer.write_all(&frame).await?;
    Ok(())
}

/// Reads one frame into `buf` (reused between calls) and decodes it.
///
/// `Ok(None)` means the peer closed the connection cleanly between frames.
pub async fn read_frame<R, T>(reader: &mut R, buf: &mut Vec<u8>) -> Result<Option<T>, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    if !read_payload(reader, buf).await? {
        return Ok(None);
    }
    decode_payload(buf).map(Some)
}

/// Reads one frame's payload into `buf` without decoding it; `Ok(false)`
/// on a clean close between frames.
pub async fn read_payload<R>(reader: &mut R, buf: &mut Vec<u8>) -> Result<bool, FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(reader, &mut header).await?;
    if got == 0 {
        return Ok(false);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated {
            expected: HEADER_LEN,
            got,
        });
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    buf.clear();
    buf.resize(len, 0);
    let got = read_full(reader, buf).await?;
    if got < len {
        return Err(FrameError::Truncated {
            expected: HEADER_LEN + len,
            got: HEADER_LEN + got,
        });
    }
    Ok(true)
}

/// Decodes the value a payload starts with, ignoring what follows (to read
/// a leading version number whatever the rest looks like).
pub fn decode_prefix<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (value, _) = bincode::serde::decode_from_slice(payload, CONFIG)?;
    Ok(value)
}

/// Fills `buf` unless the stream ends first; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{ClientFrame, ControlRequest};

    async fn read_one(bytes: &[u8]) -> Result<Option<ClientFrame>, FrameError> {
        let mut reader = bytes;
        read_frame(&mut reader, &mut Vec::new()).await
    }

    fn ping() -> ClientFrame {
        ClientFrame {
            id: 7,
            request: ControlRequest::Ping,
        }
    }

    #[tokio::test]
    async fn frames_round_trip_and_clean_close_is_none() {
        let mut bytes = encode_frame(&ping()).unwrap();
        bytes.extend(encode_frame(&ping()).unwrap());
        let mut reader = &bytes[..];
        let mut buf = Vec::new();
        for _ in 0..2 {
            let got: Option<ClientFrame> = read_frame(&mut reader, &mut buf).await.unwrap();
            assert_eq!(got, Some(ping()));
        }
        let end: Option<ClientFrame> = read_frame(&mut reader, &mut buf).await.unwrap();
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn a_half_header_is_truncated() {
        let err = read_one(&[1, 0]).await.unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    expected: 4,
                    got: 2
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_half_payload_is_truncated() {
        let bytes = encode_frame(&ping()).unwrap();
        let err = read_one(&bytes[..bytes.len() - 1]).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("closed mid-frame"));
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_reading_it() {
        let huge = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_le_bytes();
        let err = read_one(&huge).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        let err = read_one(&u32::MAX.to_le_bytes()).await.unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[tokio::test]
    async fn garbage_payload_is_a_decode_error() {
        let mut bytes = 3u32.to_le_bytes().to_vec();
        bytes.extend([0xff, 0xff, 0xff]);
        let err = read_one(&bytes).await.unwrap_err();
        assert!(matches!(err, FrameError::Decode(_)), "{err}");
    }

    #[tokio::test]
    async fn trailing_bytes_are_refused() {
        let mut payload = encode_frame(&ping()).unwrap()[HEADER_LEN..].to_vec();
        payload.push(0);
        let mut bytes = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
        bytes.extend(payload);
        let err = read_one(&bytes).await.unwrap_err();
        assert!(matches!(err, FrameError::TrailingBytes(1)), "{err}");
    }

    #[test]
    fn a_length_claim_beyond_the_frame_does_not_allocate_it() {
        // A Vec<u8> claiming 2^40 elements inside a tiny payload.
        let mut payload = vec![0xfd];
        payload.extend((1u64 << 40).to_le_bytes());
        let err = decode_payload::<Vec<u8>>(&payload).unwrap_err();
        assert!(matches!(err, FrameError::Decode(_)), "{err}");
    }

    #[test]
    fn oversized_messages_are_refused_on_encode() {
        let big = "x".repeat(MAX_FRAME_LEN + 1);
        let mut out = vec![1, 2, 3];
        let err = encode_frame_into(&big, &mut out).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        assert_eq!(
            out,
            vec![1, 2, 3],
            "a failed encode leaves the buffer as it was"
        );
    }
}
