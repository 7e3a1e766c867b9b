//! Base URLs as people paste them. Each provider's own SDK documents its
//! base URL differently: OpenAI's ends in `/v1`, Anthropic's is the host
//! root (the SDK adds `/v1/messages`), Gemini's is the host root too
//! (`GOOGLE_GEMINI_BASE_URL`; the API version follows), Ollama's is a
//! bare `host:port` (`OLLAMA_HOST`). People also paste a whole endpoint
//! copied from a curl line. [`normalize`] turns each of these into the
//! base the worker appends its paths to, so a pasted URL works or is
//! refused with the reason, and never 404s on a doubled or missing part.

use crate::agent::ProviderKind;

/// The longest base URL accepted.
const MAX_LEN: usize = 2048;

/// The base URL the worker uses for `provider`, from what a person
/// pasted: a scheme is added when missing (`http` for loopback hosts,
/// else `https`), a pasted endpoint is cut back to its base, and the part
/// each provider's paths expect is added (`/v1` for an OpenAI host root,
/// `/v1beta` for Gemini's). Refuses what cannot be a base URL: another
/// scheme, a query (it may hold a key: keys go in the key store), a
/// fragment. Normalizing twice changes nothing.
pub fn normalize(provider: ProviderKind, pasted: &str) -> Result<String, String> {
    let trimmed = pasted.trim();
    if trimmed.is_empty() {
        return Err("the base URL is empty".to_owned());
    }
    if trimmed.len() > MAX_LEN {
        return Err(format!("the base URL is longer than {MAX_LEN} bytes"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        let scheme = if is_loopback_host(trimmed) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{trimmed}")
    };
    let mut url = url::Url::parse(&with_scheme)
        .map_err(|err| format!("the base URL {} is not a URL: {err}", shown(trimmed)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the base URL must be http or https, not {}:",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the base URL has no host".to_owned());
    }
    if url.query().is_some() {
        return Err(
            "the base URL must not have a query (?...): put keys in the key store (`studio keys set`), not in the URL"
                .to_owned(),
        );
    }
    if url.fragment().is_some() {
        return Err("the base URL must not have a fragment (#...)".to_owned());
    }
    let path = base_path(provider, url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The path of the base, from a pasted path without its trailing slash.
fn base_path(provider: ProviderKind, path: &str) -> String {
    match provider {
        ProviderKind::OpenAi => {
            let base = strip_any(
                path,
                &["/chat/completions", "/completions", "/responses", "/models"],
            );
            if base.is_empty() {
                "/v1".to_owned()
            } else {
                base.to_owned()
            }
        }
        ProviderKind::Anthropic => {
            strip_any(path, &["/v1/messages", "/v1/models", "/v1"]).to_owned()
        }
        ProviderKind::Gemini => {
            let base = match path.find("/models") {
                Some(at) if path[at..] == *"/models" || path[at..].starts_with("/models/") => {
                    &path[..at]
                }
                _ => path,
            };
            let last = base.rsplit('/').next().unwrap_or_default();
            if is_api_version(last) {
                base.to_owned()
            } else {
                format!("{base}/v1beta")
            }
        }
        ProviderKind::Ollama => {
            strip_any(path, &["/api/chat", "/api/tags", "/api", "/v1"]).to_owned()
        }
        ProviderKind::Scripted => path.to_owned(),
    }
}

/// `path` without the first of `suffixes` it ends with.
fn strip_any<'a>(path: &'a str, suffixes: &[&str]) -> &'a str {
    suffixes
        .iter()
        .find_map(|suffix| path.strip_suffix(suffix))
        .unwrap_or(path)
}

/// An API version segment: `v1`, `v1beta`, `v1alpha`, `v2beta1`.
fn is_api_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = rest[digits..]
        .strip_prefix("alpha")
        .or_else(|| rest[digits..].strip_prefix("beta"))
        .unwrap_or(&rest[digits..]);
    tail.chars().all(|c| c.is_ascii_digit())
}

/// Whether a scheme-less `host[:port][/path]` names this machine.
fn is_loopback_host(without_scheme: &str) -> bool {
    let authority = without_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// What a refusal may quote of the pasted text: never a query, which
/// may hold a key.
fn shown(pasted: &str) -> String {
    let cut = pasted.split(['?', '#']).next().unwrap_or_default();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::{Anthropic, Gemini, Ollama, OpenAi};

    /// What people paste, and the base the worker should use.
    const PASTED: [(ProviderKind, &str, &str); 27] = [
        (
            OpenAi,
            "https://api.openai.com/v1",
            "https://api.openai.com/v1",
        ),
        (
            OpenAi,
            "https://api.openai.com",
            "https://api.openai.com/v1",
        ),
        (
            OpenAi,
            "https://api.openai.com/",
            "https://api.openai.com/v1",
        ),
        (OpenAi, "api.openai.com/v1/", "https://api.openai.com/v1"),
        (
            OpenAi,
            "https://api.openai.com/v1/chat/completions",
            "https://api.openai.com/v1",
        ),
        (OpenAi, "http://localhost:8000", "http://localhost:8000/v1"),
        (OpenAi, "localhost:1234/v1", "http://localhost:1234/v1"),
        (OpenAi, "127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        (
            OpenAi,
            "https://openrouter.ai/api/v1/models",
            "https://openrouter.ai/api/v1",
        ),
        (
            Anthropic,
            "https://api.anthropic.com",
            "https://api.anthropic.com",
        ),
        (
            Anthropic,
            "https://api.anthropic.com/v1",
            "https://api.anthropic.com",
        ),
        (
            Anthropic,
            "https://api.anthropic.com/v1/messages",
            "https://api.anthropic.com",
        ),
        (
            Anthropic,
            " https://proxy.example/anthropic/ ",
            "https://proxy.example/anthropic",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com/",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com/v1",
            "https://generativelanguage.googleapis.com/v1",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com/v1beta/models",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            Gemini,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        (
            Gemini,
            "https://proxy.example/gemini",
            "https://proxy.example/gemini/v1beta",
        ),
        (
            Gemini,
            "https://proxy.example/modelsproxy",
            "https://proxy.example/modelsproxy/v1beta",
        ),
        (Ollama, "localhost:11434", "http://localhost:11434"),
        (Ollama, "http://127.0.0.1:11434/", "http://127.0.0.1:11434"),
        (
            Ollama,
            "http://127.0.0.1:11434/api",
            "http://127.0.0.1:11434",
        ),
        (
            Ollama,
            "http://127.0.0.1:11434/api/chat",
            "http://127.0.0.1:11434",
        ),
        (
            Ollama,
            "http://localhost:11434/v1",
            "http://localhost:11434",
        ),
        (Ollama, "[::1]:11434", "http://[::1]:11434"),
    ];

    #[test]
    fn what_people_paste_becomes_the_base_the_worker_uses() {
        for (provider, pasted, base) in PASTED {
            assert_eq!(
                normalize(provider, pasted).as_deref(),
                Ok(base),
                "{provider} {pasted:?}"
            );
        }
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for (provider, pasted, _) in PASTED {
            let once = normalize(provider, pasted).unwrap();
            assert_eq!(normalize(provider, &once).unwrap(), once, "{pasted}");
        }
    }

    #[test]
    fn what_cannot_be_a_base_url_is_refused_without_quoting_a_query() {
        for bad in [
            "",
            "   ",
            "ftp://example.com",
            "file:///etc/passwd",
            "https://",
            "https://example.com/#top",
            "not a url at all",
        ] {
            assert!(normalize(OpenAi, bad).is_err(), "{bad:?}");
        }
        let err = normalize(
            Gemini,
            "https://generativelanguage.googleapis.com/v1beta?key=AIzaSECRET",
        )
        .unwrap_err();
        assert!(
            err.contains("key store") && !err.contains("SECRET"),
            "{err}"
        );
        let err = normalize(OpenAi, "ht tp://x?key=SECRET").unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(normalize(OpenAi, &"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn api_versions_are_told_from_other_segments() {
        for version in ["v1", "v1beta", "v1alpha", "v2beta1", "v10"] {
            assert!(is_api_version(version), "{version}");
        }
        for other in ["v", "vbeta", "gemini", "v1-beta", "models", ""] {
            assert!(!is_api_version(other), "{other}");
        }
    }
}
