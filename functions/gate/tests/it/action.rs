//! The composite action and the example workflow are hardened as we tell users to harden theirs.
use serde_norway::Value;
use std::path::Path;

fn yaml(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    serde_norway::from_str(&std::fs::read_to_string(&path).expect("read")).expect("yaml")
}

fn pinned(uses: &str) -> bool {
    uses.starts_with("./")
        || uses.rsplit_once('@').is_some_and(|(_, r)| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn the_action_interpolates_no_input_into_scripts() {
    let action = yaml("action/gate/action.yml");
    assert_eq!(action["runs"]["using"], Value::from("composite"));
    let steps = action["runs"]["steps"].as_sequence().expect("steps");
    assert!(!steps.is_empty());
    for step in steps {
        if let Some(run) = step["run"].as_str() {
            assert!(!run.contains("${{"), "expressions go through env, not into the script: {run}");
        }
        if let Some(uses) = step["uses"].as_str() {
            assert!(pinned(uses), "{uses} is not pinned by SHA");
        }
    }
    assert!(action["inputs"]["report"]["required"].as_bool().unwrap_or(false));
}

#[test]
fn the_example_workflow_is_hardened() {
    let wf = yaml("action/gate/example-workflow.yml");
    assert_eq!(wf["permissions"], Value::Mapping(Default::default()), "permissions: {{}} at the top");
    for (_, job) in wf["jobs"].as_mapping().expect("jobs") {
        for step in job["steps"].as_sequence().expect("steps") {
            if let Some(uses) = step["uses"].as_str() {
                assert!(pinned(uses), "{uses} is not pinned by a full commit SHA");
                if uses.starts_with("actions/checkout@") {
                    assert_eq!(step["with"]["persist-credentials"], Value::Bool(false));
                }
            }
        }
    }
}
