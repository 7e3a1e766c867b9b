//! Base URLs as people paste them (`protocol::base_url`): for each
//! provider, an agent created with the form its SDK's docs or a curl line
//! give (Gemini's host root, OpenAI's whole endpoint, Anthropic's `/v1`,
//! Ollama's `host:port/api`) is stored as the base the worker uses and
//! completes a round trip against a server speaking that provider's
//! format; listing models at a pasted host root asks the right path; a
//! URL with a key in its query is refused without echoing the key.

use crate::cli_harness::Cli;
use crate::provider_round_trips::cases;
use protocol::agent::ProviderKind;
use test_support::fake_provider::{FakeProvider, Reply};

/// What a person pastes for a provider served at `base` (no path).
fn pasted(provider: ProviderKind, base: &str) -> String {
    let host_port = base.trim_start_matches("http://");
    match provider {
        ProviderKind::OpenAi => format!("{base}/v1/chat/completions"),
        ProviderKind::Anthropic => format!("{base}/v1/"),
        ProviderKind::Gemini => format!("{base}/"),
        ProviderKind::Ollama => format!("{host_port}/api"),
        ProviderKind::Scripted => unreachable!("no scripted case"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_providers_pasted_base_url_is_stored_as_its_base_and_works() {
    let cli = Cli::new();
    for case in cases() {
        let fake = FakeProvider::start(case.replies).await;
        let name = format!("pasted-{}", case.provider);
        let url = pasted(case.provider, &fake.base);
        let expected = format!("{}{}", fake.base, case.path);
        tokio::task::block_in_place(|| {
            let provider = case.provider.to_string();
            let args = [
                "agent",
                "create",
                &name,
                "--provider",
                &provider,
                "--model",
                case.model,
                "--base-url",
                &url,
            ];
            cli.ok(&args);
            let shown = cli.json(&["agent", "show", &name]);
            assert_eq!(shown["base_url"], expected.as_str(), "{url}");
            cli.ok(&["run", &name, "--prompt", "What is the weather in Paris?"]);
        });
        let seen = fake.seen();
        assert_eq!(seen.len(), 2, "{}: {url}", case.provider);
        let path = seen[0].path.split('?').next().unwrap_or_default();
        let endpoint = case.endpoint.split('?').next().unwrap_or_default();
        assert_eq!(path, endpoint, "{}: {url}", case.provider);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_listed_at_a_pasted_host_root_and_a_key_in_a_query_is_refused() {
    let fake = FakeProvider::start(vec![Reply::error(
        200,
        r#"{"models":[{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent"]}]}"#,
    )])
    .await;
    let cli = Cli::new();
    let listed =
        tokio::task::block_in_place(|| cli.json(&["models", "gemini", "--base-url", &fake.base]));
    assert_eq!(
        fake.seen()[0].path.split('?').next(),
        Some("/v1beta/models")
    );
    assert!(listed.to_string().contains("gemini-2.5-flash"), "{listed}");

    let secret = "AIzaNotARealKeyButSecret";
    let with_key = format!("https://generativelanguage.googleapis.com/v1beta?key={secret}");
    let err = tokio::task::block_in_place(|| {
        cli.fails(
            &[
                "agent",
                "create",
                "leaky",
                "--provider",
                "gemini",
                "--model",
                "gemini-2.5-flash",
                "--base-url",
                &with_key,
            ],
            2,
        )
    });
    assert!(err.contains("key store") && !err.contains(secret), "{err}");
    tokio::task::block_in_place(|| cli.fails(&["agent", "show", "leaky"], 4));
}
