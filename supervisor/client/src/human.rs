//! How figures read for a person, the same in the CLI and the app:
//! durations, sizes, token counts, costs and ages.

use std::time::Duration;

use protocol::Timestamp;
use protocol::control::{SessionSummary, SessionTotals};
use protocol::event::Usage;

/// `0.8s`, `12.5s`, `2m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// `512 KiB`, `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

/// `950`, `1.2k`, `3.4M`.
pub fn count(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `1.2k in / 300 out`.
pub fn tokens(usage: &Usage) -> String {
    format!(
        "{} in / {} out",
        count(usage.input_tokens),
        count(usage.output_tokens)
    )
}

/// `$0.0125`: US dollars to a hundredth of a cent.
pub fn usd(dollars: f64) -> String {
    format!("${dollars:.4}")
}

/// `$0.0125`, with `+?` when some responses had no price.
pub fn cost(totals: &SessionTotals) -> String {
    let unpriced = if totals.unpriced > 0 { "+?" } else { "" };
    format!("{}{unpriced}", usd(totals.cost_usd))
}

/// Marks a figure that is partly estimated.
const ESTIMATED: &str = "≈";

/// A session's tokens: the reported usage plus the estimate for responses
/// without one, marked `≈` when part is estimated; `-` for a session
/// recorded before the daemon kept totals.
pub fn session_tokens(s: &SessionSummary) -> String {
    let Some(totals) = &s.totals else {
        return "-".to_owned();
    };
    if s.estimated.is_empty() {
        return tokens(&totals.usage);
    }
    let mut usage = totals.usage;
    usage.add(&s.estimated.usage);
    format!("{ESTIMATED}{}", tokens(&usage))
}

/// A session's cost, reported plus estimated like [`session_tokens`].
pub fn session_cost(s: &SessionSummary) -> String {
    let Some(totals) = &s.totals else {
        return "-".to_owned();
    };
    if s.estimated.is_empty() {
        return cost(totals);
    }
    let all = SessionTotals {
        cost_usd: totals.cost_usd + s.estimated.cost_usd,
        unpriced: totals.unpriced + u32::from(s.estimated.unpriced),
        ..totals.clone()
    };
    format!("{ESTIMATED}{}", cost(&all))
}

/// The first non-blank line of `text`, trimmed, at most `max` characters
/// (an ellipsis marks a cut).
pub fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// How long ago `then` was: `12s ago`, `3m ago`, `2h ago`, `4d ago`.
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let secs = now.0.saturating_sub(then.0) / 1_000_000;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::control::Estimated;

    #[test]
    fn figures_read_the_same_everywhere() {
        assert_eq!(duration(Duration::from_millis(1250)), "1.2s");
        assert_eq!(duration(Duration::from_secs(182)), "3m02s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(bytes(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(count(950), "950");
        assert_eq!(count(1250), "1.2k");
        assert_eq!(count(3_400_000), "3.4M");
        let usage = Usage {
            input_tokens: 1200,
            output_tokens: 300,
            ..Usage::default()
        };
        assert_eq!(tokens(&usage), "1.2k in / 300 out");
        let totals = SessionTotals {
            usage,
            cost_usd: 0.0125,
            unpriced: 1,
        };
        assert_eq!(cost(&totals), "$0.0125+?");
        assert_eq!(ago(Timestamp(0), Timestamp(125_000_000)), "2m ago");
        assert_eq!(
            first_line("\n  Fix the build \nthen test", 80),
            "Fix the build"
        );
        assert_eq!(first_line("abcdefghij", 5), "abcd…");
        assert_eq!(first_line("", 5), "");
    }

    fn session(totals: Option<SessionTotals>, estimated: Estimated) -> SessionSummary {
        SessionSummary {
            status: protocol::SessionStatus::Running,
            totals,
            estimated,
            ..test_support::sessions::summary(0)
        }
    }

    #[test]
    fn spend_says_when_part_of_it_is_estimated() {
        let reported = SessionTotals {
            usage: Usage {
                input_tokens: 1234,
                output_tokens: 56,
                ..Usage::default()
            },
            cost_usd: 0.01234,
            unpriced: 0,
        };
        let plain = session(Some(reported.clone()), Estimated::default());
        assert_eq!(session_tokens(&plain), "1.2k in / 56 out");
        assert_eq!(session_cost(&plain), "$0.0123");
        let streaming = Estimated {
            usage: Usage {
                input_tokens: 800,
                output_tokens: 150,
                ..Usage::default()
            },
            cost_usd: 0.002,
            unpriced: false,
        };
        let live = session(Some(reported.clone()), streaming.clone());
        assert_eq!(session_tokens(&live), "≈2.0k in / 206 out");
        assert_eq!(session_cost(&live), "≈$0.0143");
        let unpriced = session(
            Some(reported),
            Estimated {
                unpriced: true,
                cost_usd: 0.0,
                ..streaming
            },
        );
        assert_eq!(session_cost(&unpriced), "≈$0.0123+?");
        let old = session(None, Estimated::default());
        assert_eq!(
            (session_tokens(&old), session_cost(&old)),
            ("-".into(), "-".into())
        );
    }
}
