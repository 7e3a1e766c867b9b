//! The agent form's drafts: what they make of what was typed.

use super::*;

#[test]
fn a_key_goes_to_another_host_only_when_the_form_says_so() {
    let draft = AgentDraft {
        name: "proxied".into(),
        provider: ProviderKind::OpenAi,
        model: "gpt-4o-mini".into(),
        base_url: "https://proxy.example/v1".into(),
        ..AgentDraft::default()
    };
    let agent = draft.agent(None).unwrap_or_else(|e| panic!("{e}"));
    assert!(!agent.send_key_to_base_url);
    assert!(
        agent.notices()[0].contains("gets no openai key"),
        "{:?}",
        agent.notices()
    );
    let trusting = AgentDraft {
        send_key_to_base_url: true,
        network: true,
        ..draft
    };
    let agent = trusting.agent(None).unwrap_or_else(|e| panic!("{e}"));
    assert!(agent.send_key_to_base_url);
    assert_eq!(agent.sandbox.network, protocol::sandbox::Network::On);
    assert!(
        agent.notices()[0].contains("sends your openai key to https://proxy.example/v1"),
        "{:?}",
        agent.notices()
    );
    assert!(AgentDraft::of(&agent).send_key_to_base_url);
}

#[test]
fn a_draft_becomes_the_agent_it_describes_or_says_why_not() {
    let draft = AgentDraft {
        name: " coder ".into(),
        provider: ProviderKind::OpenAi,
        model: "gpt-4o-mini".into(),
        tools: vec!["fs".into()],
        safety: SafetyMode::WorkspaceWrite,
        mcp_servers: "everything, , files".into(),
        budgets: BudgetDraft {
            max_cost_usd: "0.5".into(),
            max_turns: "12".into(),
            ..BudgetDraft::default()
        },
        ..AgentDraft::default()
    };
    let agent = draft.agent(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(agent.name, "coder");
    assert_eq!(agent.mcp_servers, ["everything", "files"]);
    assert_eq!(agent.budgets.max_cost_usd, Some(0.5));
    assert_eq!(agent.budgets.max_turns, Some(12));
    assert_eq!(agent.budgets.max_wall_secs, None);
    let bad = AgentDraft {
        budgets: BudgetDraft {
            max_wall_secs: "soon".into(),
            ..BudgetDraft::default()
        },
        ..draft.clone()
    };
    assert_eq!(
        bad.agent(None).err().as_deref(),
        Some("max wall seconds: \"soon\" is not a number")
    );
    let modelless = AgentDraft {
        model: " ".into(),
        ..draft.clone()
    };
    assert_eq!(
        modelless.agent(None).err().as_deref(),
        Some("pick a model for openai")
    );
    let unnamed = AgentDraft {
        name: String::new(),
        ..draft
    };
    assert!(unnamed.agent(None).is_err());
}

#[test]
fn a_rule_row_becomes_its_rule_or_says_why_not() {
    let row = RuleDraft {
        matches: " shell:command=git * ".into(),
        decision: "deny".into(),
        priority: " -5 ".into(),
    };
    let (matches, decision, priority) = row.rule().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(matches.tool, "shell");
    assert_eq!(matches.to_string(), "shell:command=git *");
    assert_eq!((decision, priority), (RuleDecision::Deny, -5));
    // A fresh row allows at priority 0; an empty priority is 0 too.
    let plain = RuleDraft {
        matches: "fs.*".into(),
        priority: String::new(),
        ..RuleDraft::default()
    };
    assert_eq!(
        plain.rule(),
        Ok(("fs.*".parse().unwrap(), RuleDecision::Allow, 0))
    );
    let why = |row: RuleDraft| row.rule().err().unwrap_or_default();
    assert!(why(RuleDraft::default()).starts_with("a rule needs a tool"));
    assert_eq!(
        why(RuleDraft {
            matches: "shell:command".into(),
            ..RuleDraft::default()
        }),
        "\"shell:command\": expected TOOL or TOOL:FIELD=GLOB"
    );
    assert_eq!(
        why(RuleDraft {
            decision: "maybe".into(),
            ..plain.clone()
        }),
        "decision \"maybe\": expected allow, ask or deny"
    );
    assert_eq!(
        why(RuleDraft {
            priority: "high".into(),
            ..plain.clone()
        }),
        "priority: \"high\" is not a whole number"
    );
    assert!(
        why(RuleDraft {
            priority: "1.5".into(),
            ..plain
        })
        .starts_with("priority")
    );
}

#[test]
fn editing_changes_the_form_fields_and_keeps_the_rest() {
    let mut existing = AgentConfig::scripted("coder");
    existing.workspace = Some("/srv/code".into());
    existing.budgets.max_idle_secs = Some(30);
    existing.script.chunks = 7;
    existing.mcp_servers = vec!["a".into(), "b".into()];
    let mut draft = AgentDraft::of(&existing);
    assert_eq!(draft.mcp_servers, "a, b");
    draft.system_prompt = "Be terse.".into();
    let edited = draft
        .agent(Some(&existing))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(edited.system_prompt, "Be terse.");
    assert_eq!(edited.workspace.as_deref(), Some("/srv/code"));
    assert_eq!(edited.budgets.max_idle_secs, Some(30));
    assert_eq!(edited.script.chunks, 7);
    assert_eq!(edited.mcp_servers, ["a", "b"]);
}

#[test]
fn a_workspace_per_run_with_its_setup_round_trips_and_a_relative_directory_is_refused() {
    let mut draft = AgentDraft::of(&AgentConfig::scripted("coder"));
    draft.workspace = " /srv/code ".into();
    draft.workspace_per_run = true;
    draft.setup = "npm ci".into();
    let agent = draft.check(None).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(agent.workspace.as_deref(), Some("/srv/code"));
    let per_run = agent.workspace_per_run.clone().unwrap();
    assert_eq!(per_run.setup.as_deref(), Some("npm ci"));
    let again = AgentDraft::of(&agent);
    assert!(again.workspace_per_run);
    assert_eq!(again.setup, "npm ci");
    draft.workspace_per_run = false;
    assert_eq!(draft.agent(None).unwrap().workspace_per_run, None);
    draft.workspace = "code".into();
    let problems = draft.check(None).unwrap_err();
    assert!(problems.of("workspace").is_some(), "{problems:?}");
}

#[test]
fn every_problem_of_a_draft_is_found_at_once_and_kept_by_field() {
    let draft = AgentDraft {
        name: ".hidden".into(),
        provider: ProviderKind::OpenAi,
        model: " ".into(),
        budgets: BudgetDraft {
            max_tokens: "lots".into(),
            max_turns: "0".into(),
            max_cost_usd: "-1".into(),
            ..BudgetDraft::default()
        },
        ..AgentDraft::default()
    };
    let Err(problems) = draft.check(None) else {
        panic!("a bad draft passed");
    };
    for field in ["name", "model", "max_tokens", "max_turns", "max_cost_usd"] {
        assert!(problems.of(field).is_some(), "{field}: {problems:?}");
    }
    assert_eq!(problems.all().count(), 5);
    assert_eq!(problems.of("max_wall_secs"), None);
    let fixed = AgentDraft {
        name: "fine".into(),
        model: "gpt-4o".into(),
        budgets: BudgetDraft {
            max_tokens: "5000".into(),
            ..BudgetDraft::default()
        },
        ..draft
    };
    let agent = fixed.check(None).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(agent.budgets.max_tokens, Some(5000));
}

#[test]
fn a_description_and_sampling_are_kept_and_a_bad_one_is_marked_on_its_field() {
    let draft = AgentDraft {
        name: "careful".into(),
        description: " Reviews diffs, never edits. ".into(),
        sampling: SamplingDraft {
            temperature: "0.2".into(),
            top_p: String::new(),
            max_output_tokens: "800".into(),
        },
        ..AgentDraft::default()
    };
    let agent = draft.check(None).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(agent.description, "Reviews diffs, never edits.");
    assert_eq!(
        agent.sampling,
        protocol::agent::Sampling {
            temperature: Some(0.2),
            top_p: None,
            max_output_tokens: Some(800),
        }
    );
    assert_eq!(
        AgentDraft::of(&agent).sampling,
        draft.sampling,
        "edited as it is"
    );
    let too_hot = AgentDraft {
        sampling: SamplingDraft {
            temperature: "9".into(),
            ..SamplingDraft::default()
        },
        description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
        ..draft
    };
    let Err(problems) = too_hot.check(None) else {
        panic!("too hot passed");
    };
    assert_eq!(
        problems.of("temperature").as_deref(),
        Some("temperature 9 is out of range: from 0 to 2")
    );
    assert!(problems.of("description").is_some());
}

#[test]
fn a_display_name_makes_the_short_name_unless_one_is_typed() {
    let draft = AgentDraft {
        display_name: " Code Helper ".into(),
        ..AgentDraft::default()
    };
    let agent = draft.check(None).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(
        (agent.name.as_str(), agent.display_name.as_str()),
        ("code-helper", "Code Helper")
    );
    let named = AgentDraft {
        name: "helper".into(),
        ..draft.clone()
    };
    assert_eq!(
        named.check(None).map(|a| a.name).ok().as_deref(),
        Some("helper")
    );
    let long = AgentDraft {
        display_name: "x".repeat(81),
        ..AgentDraft::default()
    };
    let problems = long.check(None).err().unwrap_or_default();
    assert!(problems.of("display_name").is_some(), "{problems:?}");
    // Neither: the name is missing.
    let problems = AgentDraft::default().check(None).err().unwrap_or_default();
    assert!(problems.of("name").is_some(), "{problems:?}");
}

#[test]
fn where_an_agent_runs_is_kept_checked_and_left_to_the_daemon_when_empty() {
    let draft = AgentDraft {
        name: "crunch".into(),
        runs_on: " slurm:gpu ".into(),
        ..AgentDraft::default()
    };
    let agent = draft.check(None).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        agent.on,
        Some(Launcher::Slurm {
            partition: Some("gpu".into())
        })
    );
    assert_eq!(AgentDraft::of(&agent).runs_on, "slurm:gpu");
    let typo = AgentDraft {
        runs_on: "slrum".into(),
        ..draft.clone()
    };
    let problems = typo.check(None).expect_err("a launcher that is none");
    assert!(
        problems
            .of("runs_on")
            .is_some_and(|why| why.contains("unknown launcher \"slrum\"")),
        "{problems:?}"
    );
    let unset = AgentDraft {
        runs_on: String::new(),
        ..draft
    };
    let agent = unset
        .check(Some(&agent))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(agent.on, None, "emptied, the daemon's default again");
}
