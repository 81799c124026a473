//! A site's WAF settings as SecLang: what goes before the CRS rules
//! (engine mode, paranoia, thresholds, body limits, path-scoped
//! exclusions as `ctl:` rules) and what goes after them (exclusions that
//! apply everywhere, which `SecRuleRemove…`/`SecRuleUpdateTarget…` must
//! name after the rules exist).
//!
//! Exclusions come from site owners through the API, so every value that
//! lands in a directive passes `WafExclusion::check` first, the alphabet
//! the file and the API enforce: nothing an owner writes can open a quote
//! or start another directive.

use std::fmt::Write as _;

use rampart_config::{WafMode, WafSettings};

/// First id of the generated path-scoped exclusion rules (the 1–99,999
/// range is the one ModSecurity leaves to local rules).
const FIRST_EXCLUSION_ID: usize = 10_000;

/// `(before, after)`; an exclusion that is not expressible is `(index,
/// why)`.
pub fn site_directives(settings: &WafSettings) -> Result<(String, String), (usize, String)> {
    let mut before = String::new();
    let engine = match settings.mode {
        WafMode::Block => "On",
        WafMode::Detect | WafMode::Off => "DetectionOnly",
    };
    let _ = writeln!(before, "SecRuleEngine {engine}");
    // The body limit and what happens past it are the edge's (it buffers
    // the body before the engine sees it), not directives.
    let response = if settings.inspect_responses {
        "On"
    } else {
        "Off"
    };
    let _ = writeln!(before, "SecResponseBodyAccess {response}");
    let _ = writeln!(
        before,
        "SecAction \"id:900000,phase:1,pass,nolog,t:none,\
         setvar:tx.blocking_paranoia_level={},\
         setvar:tx.inbound_anomaly_score_threshold={},\
         setvar:tx.outbound_anomaly_score_threshold={}\"",
        settings.paranoia.clamp(1, 4),
        settings.inbound_threshold.max(1),
        settings.outbound_threshold.max(1),
    );
    let mut after = String::new();
    for (index, exclusion) in settings.exclusions.iter().enumerate() {
        exclusion
            .check(&format!("exclusions[{index}]"))
            .map_err(|message| (index, message))?;
        match exclusion.path.as_deref() {
            Some(path) => {
                let mut ctls = Vec::new();
                for id in &exclusion.rule_ids {
                    ctls.push(match exclusion.target.as_deref() {
                        Some(t) => format!("ctl:ruleRemoveTargetById={id};{t}"),
                        None => format!("ctl:ruleRemoveById={id}"),
                    });
                }
                for tag in &exclusion.tags {
                    ctls.push(match exclusion.target.as_deref() {
                        Some(t) => format!("ctl:ruleRemoveTargetByTag={tag};{t}"),
                        None => format!("ctl:ruleRemoveByTag={tag}"),
                    });
                }
                let _ = writeln!(
                    before,
                    "SecRule REQUEST_FILENAME \"@beginsWith {path}\" \"id:{},phase:1,pass,nolog,t:none,{}\"",
                    FIRST_EXCLUSION_ID + index,
                    ctls.join(",")
                );
            }
            None => {
                for id in &exclusion.rule_ids {
                    match exclusion.target.as_deref() {
                        Some(t) => {
                            let _ = writeln!(after, "SecRuleUpdateTargetById {id} \"!{t}\"");
                        }
                        None => {
                            let _ = writeln!(after, "SecRuleRemoveById {id}");
                        }
                    }
                }
                for tag in &exclusion.tags {
                    match exclusion.target.as_deref() {
                        Some(t) => {
                            let _ = writeln!(after, "SecRuleUpdateTargetByTag \"{tag}\" \"!{t}\"");
                        }
                        None => {
                            let _ = writeln!(after, "SecRuleRemoveByTag \"{tag}\"");
                        }
                    }
                }
            }
        }
    }
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::WafExclusion;

    fn with(exclusions: Vec<WafExclusion>) -> WafSettings {
        WafSettings {
            mode: WafMode::Block,
            paranoia: 2,
            exclusions,
            ..WafSettings::default()
        }
    }

    #[test]
    fn settings_become_directives() {
        let (before, after) = site_directives(&with(vec![
            WafExclusion {
                rule_ids: vec![942100],
                target: Some("ARGS:password".into()),
                ..WafExclusion::default()
            },
            WafExclusion {
                tags: vec!["attack-sqli".into()],
                path: Some("/search".into()),
                ..WafExclusion::default()
            },
        ]))
        .unwrap();
        assert!(before.contains("SecRuleEngine On"), "{before}");
        assert!(before.contains("blocking_paranoia_level=2"), "{before}");
        assert!(
            before.contains("\"@beginsWith /search\" \"id:10001,phase:1,pass,nolog,t:none,ctl:ruleRemoveByTag=attack-sqli\""),
            "{before}"
        );
        assert_eq!(after, "SecRuleUpdateTargetById 942100 \"!ARGS:password\"\n");
    }

    #[test]
    fn nothing_an_owner_writes_escapes_its_quotes() {
        for bad in [
            WafExclusion {
                rule_ids: vec![1],
                target: Some("ARGS:x\" \"id:1,deny".into()),
                ..WafExclusion::default()
            },
            WafExclusion {
                tags: vec!["a\"\nSecRuleEngine Off".into()],
                ..WafExclusion::default()
            },
            WafExclusion {
                rule_ids: vec![1],
                path: Some("/x\" \"id:5".into()),
                ..WafExclusion::default()
            },
            WafExclusion::default(),
        ] {
            assert!(
                site_directives(&with(vec![bad.clone()])).is_err(),
                "{bad:?}"
            );
        }
    }
}
