//! The YAML model: test files and overrides files.

use super::*;

const SAMPLE: &str = r#"
---
meta:
  author: "someone"
  description: "sample"
rule_id: 920160
tests:
  - test_id: 1
    desc: new style
    stages:
      - input:
          dest_addr: 127.0.0.1
          port: 8080
          method: POST
          headers:
            Host: localhost
            Content-Length: 7
            X-Flag: true
          data: |
            a=b
            c=d
        output:
          status: 200
          log:
            expect_ids: [920160, 920170]
            no_expect_ids: [949110]
  - desc: old style, no test_id, stage wrapper
    stages:
      - stage:
          input:
            encoded_request: "R0VUIC8g\nSFRUUC8xLjENCg0K"
            stop_magic: true
          output:
            log_contains: id "920160"
            status: [200, 403]
"#;

#[test]
fn yaml_new_and_old_styles() {
    let file = parse_yaml(SAMPLE);
    assert_eq!(file.rule_id, 920160);
    assert_eq!(file.tests.len(), 2);
    let first = &file.tests[0];
    assert_eq!(first.test_id, Some(1));
    let input = &first.stages[0].input;
    assert_eq!(input.port(), 8080);
    assert_eq!(input.method(), "POST");
    assert_eq!(input.uri(), "/");
    assert_eq!(input.version(), "HTTP/1.1");
    assert_eq!(
        input.headers.get("Content-Length").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        input.headers.get("X-Flag").map(String::as_str),
        Some("true")
    );
    assert_eq!(input.data.as_deref(), Some("a=b\nc=d\n"));
    assert!(input.autocomplete());
    let output = &first.stages[0].output;
    assert_eq!(output.status, vec![200]);
    assert_eq!(output.log.expect_ids, vec![920160, 920170]);
    assert_eq!(output.log.no_expect_ids, vec![949110]);

    let second = &file.tests[1];
    assert_eq!(second.test_id, None);
    let stage = &second.stages[0];
    assert!(
        !stage.input.autocomplete(),
        "stop_magic: true disables completion"
    );
    assert_eq!(stage.output.log_contains.as_deref(), Some("id \"920160\""));
    assert_eq!(stage.output.status, vec![200, 403]);
}

#[test]
fn empty_test_file_is_none() {
    assert!(parse_test_file("---\n# nothing here\n").unwrap().is_none());
    assert!(parse_test_file("").unwrap().is_none());
}

#[test]
fn real_920100_file() {
    let Some(crs) = crs() else { return };
    let path = crs.join("tests/regression/tests/REQUEST-920-PROTOCOL-ENFORCEMENT/920100.yaml");
    let file = parse_yaml(&std::fs::read_to_string(path).unwrap());
    assert_eq!(file.rule_id, 920100);
    let test2 = file.tests.iter().find(|t| t.test_id == Some(2)).unwrap();
    assert_eq!(test2.stages[0].input.method(), "     GET");
    assert_eq!(test2.stages[0].output.status, vec![400]);
    let test10 = file.tests.iter().find(|t| t.test_id == Some(10)).unwrap();
    assert_eq!(test10.stages[0].output.log.expect_ids, vec![920100]);
}

#[test]
fn every_real_test_file_parses() {
    let Some(crs) = crs() else { return };
    let files = test_files(&crs).unwrap();
    assert!(files.len() > 300);
    let mut tests = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        match parse_test_file(&text) {
            Ok(Some(file)) => tests += file.tests.len(),
            Ok(None) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert!(tests > 4000, "{tests}");
}

#[test]
fn real_overrides_files() {
    let Some(crs) = crs() else { return };
    let coraza = load_overrides(&crs.join("tests/regression/coraza-overrides.yaml")).unwrap();
    let o = coraza.find(920100, 4).unwrap();
    assert_eq!(o.output.as_ref().unwrap().status, vec![404]);
    let wip = coraza.find(932200, 13).unwrap();
    assert!(wip.output.is_none(), "an override without output");
    assert!(coraza.find(920100, 1).is_none());
    let nginx = load_overrides(&crs.join("tests/regression/nginx-overrides.yaml")).unwrap();
    let o = nginx.find(933110, 20).unwrap();
    assert_eq!(o.output.as_ref().unwrap().log.no_expect_ids, vec![933110]);
}

#[test]
fn bundled_overrides_parse_and_name_real_tests() {
    let bundled: crate::ftw::schema::OverridesFile =
        serde_norway::from_str(crate::ftw::BUNDLED_OVERRIDES).unwrap();
    assert!(bundled.test_overrides.len() > 10);
    assert!(
        bundled
            .test_overrides
            .iter()
            .all(|o| o.reason.is_some() && o.output.is_some())
    );
    assert_eq!(
        bundled
            .find(920430, 8)
            .unwrap()
            .output
            .as_ref()
            .unwrap()
            .status,
        vec![400]
    );
}

#[test]
fn uris_list() {
    let file = parse_yaml(
        "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input:\n          uris: ['/a', '/b?c']\n        output: {}\n",
    );
    let input = &file.tests[0].stages[0].input;
    assert_eq!(input.uris, vec!["/a", "/b?c"]);
    let each: Vec<String> = crate::ftw::runner::stage_inputs(input)
        .iter()
        .map(|i| i.uri().to_owned())
        .collect();
    assert_eq!(each, vec!["/a", "/b?c"]);
    assert_eq!(crate::ftw::runner::stage_inputs(&Input::default()).len(), 1);
}
