//! The parser's walk, as tables: what it sees, and what it cannot see through.

use super::*;

fn texts(commands: &Commands) -> Vec<&str> {
    commands.seen.iter().map(|c| c.text.as_str()).collect()
}

/// Each way of putting a second command in a string, and each way of
/// quoting its name, is seen, and none is opaque.
#[test]
fn every_simple_command_is_seen() {
    let cases: &[(&str, &[&str])] = &[
        ("true && rm -f junk", &["true", "rm -f junk"]),
        ("true || rm x", &["true", "rm x"]),
        ("true; rm x", &["true", "rm x"]),
        ("true & rm x", &["true", "rm x"]),
        ("true | rm x", &["true", "rm x"]),
        ("true\nrm x", &["true", "rm x"]),
        ("! true && time rm x", &["true", "rm x"]),
        ("(rm x)", &["rm x"]),
        ("(true; (rm x))", &["true", "rm x"]),
        ("{ rm x; }", &["rm x"]),
        ("echo $(rm x)", &["rm x", "echo $(rm x)"]),
        ("echo \"$(rm x)\"", &["rm x", "echo $(rm x)"]),
        ("echo `rm x`", &["rm x", "echo `rm x`"]),
        (
            "echo `echo \\`rm x\\``",
            &["rm x", "echo `rm x`", "echo `echo \\`rm x\\``"],
        ),
        ("echo ${X:-$(rm x)}", &["rm x", "echo ${X:-$(rm x)}"]),
        ("X=$(rm x) true", &["rm x", "X=$(rm x) true"]),
        ("cat <(rm x)", &["rm x", "cat <( rm x )"]),
        ("cat > >(rm x)", &["rm x", "cat > >( rm x )"]),
        ("cat <<EOF\n$(rm x)\nEOF", &["rm x", "cat <<EOF"]),
        ("cat <<'EOF'\n$(rm x)\nEOF", &["cat <<'EOF'"]),
        (
            "if true; then rm x; elif rm y; then :; else rm z; fi",
            &["true", "rm x", "rm y", ":", "rm z"],
        ),
        ("for f in a; do rm $f; done", &["rm $f"]),
        ("for f in $(rm x); do :; done", &["rm x", ":"]),
        ("while false; do rm x; done", &["false", "rm x"]),
        ("until true; do rm x; done", &["true", "rm x"]),
        ("case a in a) rm x;; esac", &["rm x"]),
        ("case $(rm x) in a) :;; esac", &["rm x", ":"]),
        ("[[ -f $(rm x) ]]", &["rm x"]),
        ("f(){ rm x; }; f", &["rm x", "f"]),
        ("function f { rm x; }", &["rm x"]),
        ("coproc rm x", &["rm x"]),
        ("\\rm x", &["rm x"]),
        ("'rm' x", &["rm x"]),
        ("\"rm\" x", &["rm x"]),
        ("r\"m\" 'x y'", &["rm x y"]),
        ("/bin/rm x", &["/bin/rm x"]),
        (
            "git log | head -5 > out 2>&1",
            &["git log", "head -5 > out 2>&1"],
        ),
        ("echo $((1 + 2)) ~/x", &["echo $((1 + 2)) ~/x"]),
        ("", &[]),
        ("  # only a comment", &[]),
    ];
    for (command, expected) in cases {
        let got = parse(command);
        assert_eq!(got.opaque, None, "{command:?}");
        assert_eq!(texts(&got), *expected, "{command:?}");
    }
}

/// Deny and ask rules are also tried on the command from its name on,
/// with the name cut to its basename.
#[test]
fn other_forms_drop_assignments_and_paths() {
    let got = parse("X=1 /bin/rm -f x > log");
    assert_eq!(texts(&got), ["X=1 /bin/rm -f x > log"]);
    assert_eq!(got.seen[0].also, ["/bin/rm -f x > log", "rm -f x > log"]);
}

/// Whatever the parser cannot see through is opaque, and what it did
/// see inside is still listed.
#[test]
fn what_cannot_be_seen_through_is_opaque() {
    use Opaque::*;
    let evaluates = |name: &str| Evaluates(name.to_owned());
    let shell = |name: &str| Shell(name.to_owned());
    let wraps = |name: &str| Wraps(name.to_owned());
    let cases: Vec<(&str, Opaque, Option<&str>)> = vec![
        ("eval \"rm x\"", evaluates("eval"), Some("rm x")),
        ("true; eval rm x", evaluates("eval"), Some("rm x")),
        ("source ./x.sh", evaluates("source"), None),
        (". ./x.sh", evaluates("."), None),
        ("trap 'rm x' EXIT", evaluates("trap"), Some("rm x")),
        ("alias ls=rm", evaluates("alias"), None),
        ("hash -p /bin/rm ls", evaluates("hash"), None),
        ("$CMD x", ExpandedName, None),
        ("${X} x", ExpandedName, None),
        ("\"$X\" x", ExpandedName, None),
        ("$(echo rm) x", ExpandedName, Some("echo rm")),
        ("`echo rm` x", ExpandedName, Some("echo rm")),
        ("/bin/r? x", ExpandedName, None),
        ("{rm,x}", ExpandedName, None),
        ("$'\\x72m' x", ExpandedName, None),
        ("sh -c 'rm x'", shell("sh"), Some("rm x")),
        ("/bin/bash -lc 'rm x'", shell("bash"), Some("rm x")),
        ("bash <<EOF\nrm x\nEOF", shell("bash"), Some("rm x")),
        ("bash <<< 'rm x'", shell("bash"), Some("rm x")),
        ("echo rm x | sh", shell("sh"), None),
        ("echo rm x | sh ./x.sh", shell("sh"), None),
        ("sh < x.sh", shell("sh"), None),
        ("bash -s", shell("bash"), None),
        ("bash -o pipefail", shell("bash"), None),
        ("xargs rm < list", wraps("xargs"), None),
        ("find . -exec rm {} +", wraps("find"), None),
        ("sudo rm -rf x", wraps("sudo"), None),
        ("env X=1 rm x", wraps("env"), None),
        ("command rm x", wraps("command"), None),
        ("exec rm x", wraps("exec"), None),
        ("timeout 5 rm x", wraps("timeout"), None),
        ("echo 'unbalanced", Unparsable(String::new()), None),
        ("echo (", Unparsable(String::new()), None),
        ("((rm x))", Arithmetic, None),
        // brush reads this as arithmetic, where dash runs `rm x`; the
        // variables in it keep it from being allowed.
        ("( (rm x) )", Arithmetic, None),
        (
            "for x in 'a[$(rm y)]'; do echo $((x)); done",
            Arithmetic,
            None,
        ),
        ("echo $((1 + $(rm x)))", Arithmetic, Some("rm x")),
        ("echo ${a[i]}", Arithmetic, None),
        ("[[ $n -gt 1 ]]", Arithmetic, None),
        ("declare -i n=1", Arithmetic, None),
        ("declare -n r=x", Arithmetic, None),
        ("echo ${!x}", Indirect, None),
        ("echo ${x@P}", Indirect, None),
        ("read 'a[$(rm x)]'", Subscript, None),
        ("unset \"$name\"", Subscript, None),
        ("printf -v \"$name\" %s 1", Subscript, None),
        ("[[ -v 'a[$(rm x)]' ]]", Subscript, None),
        (
            "PS4='$(rm x)'; set -x",
            EvaluatedVariable("PS4".into()),
            None,
        ),
        (
            "export BASH_ENV=x.sh",
            EvaluatedVariable("BASH_ENV".into()),
            None,
        ),
    ];
    for (command, expected, inner) in cases {
        let got = parse(command);
        let opaque = got.opaque.clone();
        let same = match (&opaque, &expected) {
            (Some(Unparsable(_)), Unparsable(_)) => true,
            (got, expected) => *got == Some(expected.clone()),
        };
        assert!(same, "{command:?}: {opaque:?}, expected {expected:?}");
        if let Some(inner) = inner {
            assert!(texts(&got).contains(&inner), "{command:?}: {:?}", got.seen);
        }
    }
}

/// Near misses: what looks like the opaque cases above but is seen
/// through.
#[test]
fn plain_uses_are_not_opaque() {
    for command in [
        "sh ./build.sh",
        "bash -e ./build.sh arg",
        "find . -name '*.rs' -print",
        "command -v git",
        "env",
        "exec 3>&1",
        "echo $((1 + 2)) ${x:-default} ${#x} ${x%.rs}",
        "[[ -f x && 1 -lt 2 ]] && git status",
        "read -r line < file",
        "unset 'a[0]'",
        "export PATH=\"$PATH:/x\"",
        "echo '$(not run)' \"\\$(neither)\"",
        "[ -f x ] && test -d y",
        "X=1 git status",
    ] {
        let got = parse(command);
        assert_eq!(got.opaque, None, "{command:?}: {:?}", got.seen);
        assert!(!got.seen.is_empty(), "{command:?}");
    }
}

/// A wrapper's arguments are each tried as the command it runs.
#[test]
fn a_wrapper_names_what_it_runs() {
    let got = parse("sudo -u root /bin/rm -rf x");
    assert!(
        got.seen[0].also.iter().any(|f| f == "rm -rf x"),
        "{:?}",
        got.seen
    );
}

#[test]
fn basenames() {
    assert_eq!(basename("/usr/bin/rm"), "rm");
    assert_eq!(basename("./rm"), "rm");
    assert_eq!(basename("rm"), "rm");
    assert_eq!(basename("/"), "/");
}

/// Every construct that nests, as deep as the limit lets through, is
/// read without overflowing the parser's stack, and in bounded time: a
/// script or word nested in another is read again at each level, so deep
/// nesting of those runs out of the parse budget instead. One opener
/// more than the limit is opaque at once.
#[test]
fn deep_nesting_fits_its_stack_and_its_budget() {
    let n = MAX_OPENERS;
    let nested = |open: &str, inner: &str, close: &str, n: usize| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let read_whole = [
        nested("(true; ", "rm x", ")", n),
        nested("{ ", "rm x;", " }", n / 2),
        nested("if true; then ", "rm x", "; fi", n),
        nested("while true; do ", "rm x", "; done", n),
        nested("case a in a) ", "rm x", ";; esac", n),
        nested("f() { ", "rm x", "; }", n / 2),
        format!("[[ {} ]]", nested("( ", "-f x", " )", n)),
    ];
    for command in &read_whole {
        assert!(openers(command) <= MAX_OPENERS, "{}", &command[..40]);
        let started = std::time::Instant::now();
        let got = parse(command);
        assert_eq!(got.opaque, None, "{}", &command[..40]);
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
    let out_of_budget = [
        nested("echo $(", "rm x", ")", n / 2),
        nested("echo \"$(", "rm x", ")\"", n / 2),
        nested("echo ${a:-", "$(rm x)", "}", n / 2 - 1),
    ];
    for command in &out_of_budget {
        let started = std::time::Instant::now();
        assert_eq!(parse(command).opaque, Some(Opaque::TooLarge));
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
    let over = nested("(", "rm x", ")", n + 1);
    assert_eq!(parse(&over).opaque, Some(Opaque::TooLarge));
}
