//! The template miner: stable ids, bounded clusters, serialisation and shard merging.

use std::collections::HashMap;

use aetherveil_logparse::{Miner, MinerConfig, TemplateId};

/// A CI-flavoured log of our own: steps, downloads, test results, cache lines and timings.
fn fixture() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..60u32 {
        let pkg = ["serde", "tokio", "clap", "regex", "anyhow"][i as usize % 5];
        lines.push(format!("Downloaded {pkg} v1.{}.{} ({} KB)", i % 7, i % 3, 10 + i * 13));
        lines.push(format!("Compiling {pkg} v1.{}.{}", i % 7, i % 3));
        lines.push(format!("test tests::case_{i} ... ok"));
        if i % 4 == 0 {
            lines.push(format!("test tests::flaky_{i} ... FAILED"));
        }
        lines.push(format!("Cache restored from key: linux-cargo-{:08x}", i * 7919));
        lines.push(format!("Finished dev profile in {}.{}s", i % 9, i % 10));
        lines.push(format!("Run at Fri Jul {} 07:{:02}:00 2025 took {} ms", 1 + i % 28, i % 60, 5 + i));
        lines.push(format!("Uploading artifact /home/runner/work/repo/target/build-{i}.tar.gz"));
        if i % 10 == 0 {
            lines.push("Post job cleanup.".to_owned());
            lines.push(format!("error: process exited with code {}", i % 3 + 1));
        }
    }
    lines
}

fn groups(ids: &[TemplateId]) -> Vec<Vec<usize>> {
    let mut by: HashMap<TemplateId, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        by.entry(*id).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = by.into_values().collect();
    out.sort();
    out
}

#[test]
fn values_are_masked_and_lines_of_one_event_share_a_template() {
    let mut miner = Miner::new(MinerConfig::default());
    let a = miner.insert("Downloaded serde v1.0.1 (120 KB)");
    let b = miner.insert("Downloaded serde v1.0.2 (3 MB)");
    let c = miner.insert("Compiling serde v1.0.2");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(miner.template(a).map(|t| (t.text, t.count)), Some(("Downloaded serde <*> (<*> <*>)".into(), 2)));
    assert_eq!(miner.len(), 2);
}

#[test]
fn an_id_stays_valid_as_its_template_generalises() {
    let mut miner = Miner::new(MinerConfig::default());
    let first = miner.insert("session opened for user alice by uid=0");
    assert_eq!(miner.template(first).map(|t| t.text), Some("session opened for user alice by uid=<*>".into()));
    // A value where the template has a word: the word was a variable.
    let second = miner.insert("session opened for user 1001 by uid=0");
    assert_eq!(first, second);
    assert_eq!(miner.template(first).map(|t| t.text), Some("session opened for user <*> by uid=<*>".into()));
    assert_eq!(miner.insert("session opened for user bob by uid=7"), first);
    // Two words that differ with no value as evidence stay apart.
    let started = miner.insert("VM Started (Lifecycle Event)");
    let paused = miner.insert("VM Paused (Lifecycle Event)");
    assert_ne!(started, paused);
}

#[test]
fn a_variable_may_span_several_tokens() {
    let mut miner = Miner::new(MinerConfig::default());
    let a = miner.insert("connection from 10.0.0.1 at Fri Jul 17 07:07:00 2025");
    let b = miner.insert("connection from 10.0.0.2 at 2025-07-17T07:07:00Z");
    assert_eq!(a, b);
}

#[test]
fn match_line_classifies_without_learning() {
    let mut miner = Miner::new(MinerConfig::default());
    let id = miner.insert("Cache restored from key: linux-cargo-1a2b");
    assert_eq!(miner.match_line("Cache restored from key: linux-cargo-ffff99"), Some(id));
    assert_eq!(miner.match_line("Cache not found for key: linux-cargo-1a2b"), None);
    assert_eq!(miner.len(), 1);
    assert_eq!(miner.template(id).map(|t| t.count), Some(1));
}

#[test]
fn clusters_are_bounded_and_the_least_recent_is_evicted() {
    let mut miner = Miner::new(MinerConfig { max_clusters: 3, ..MinerConfig::default() });
    let a = miner.insert("alpha step started");
    let b = miner.insert("beta step started");
    let c = miner.insert("gamma step started");
    assert_eq!(miner.insert("alpha step started"), a); // a is now more recent than b
    let d = miner.insert("delta step started");
    assert_eq!(miner.len(), 3);
    assert!(miner.template(b).is_none(), "the least recently matched template is evicted");
    assert!(miner.template(a).is_some() && miner.template(c).is_some() && miner.template(d).is_some());
    // Ids are never reused: b's line comes back as a new template.
    let b2 = miner.insert("beta step started");
    assert!(![a, b, c, d].contains(&b2));
    assert_eq!(miner.len(), 3);
}

#[test]
fn the_state_round_trips_through_serde() {
    let lines = fixture();
    let (head, tail) = lines.split_at(lines.len() / 2);
    let mut miner = Miner::new(MinerConfig::default());
    for l in head {
        miner.insert(l);
    }
    let json = serde_json::to_string(&miner).expect("serialises");
    let mut restored: Miner = serde_json::from_str(&json).expect("deserialises");
    let mut before: Vec<_> = miner.templates().map(|t| (t.id, t.text, t.count)).collect();
    let mut after: Vec<_> = restored.templates().map(|t| (t.id, t.text, t.count)).collect();
    before.sort();
    after.sort();
    assert_eq!(before, after);
    assert_eq!(restored.config(), miner.config());
    // Both keep learning identically, merges included.
    for l in tail {
        assert_eq!(miner.insert(l), restored.insert(l), "{l}");
    }
    let ids: Vec<TemplateId> = lines.iter().filter_map(|l| miner.match_line(l)).collect();
    assert_eq!(ids.len(), lines.len());
    for l in &lines {
        assert_eq!(miner.match_line(l), restored.match_line(l), "{l}");
    }
    for id in 0..200 {
        assert_eq!(miner.resolve(TemplateId(id)), restored.resolve(TemplateId(id)));
    }
}

#[test]
fn words_that_fill_two_contexts_are_values_and_ids_resolve_through_merges() {
    let mut miner = Miner::new(MinerConfig::default());
    let opened = miner.insert("session opened for user cyrus by (uid=0)");
    let closed = miner.insert("session closed for user cyrus");
    let opened_news = miner.insert("session opened for user news by (uid=0)");
    assert_ne!(opened, opened_news, "one context is no evidence: the word may name the event");
    let closed_news = miner.insert("session closed for user news");
    // cyrus and news fill the same hole of two different events: they are values.
    assert_eq!(miner.resolve(opened_news), opened);
    assert_eq!(miner.resolve(closed_news), closed);
    assert_eq!(miner.resolve(opened), opened, "the oldest id survives a merge");
    assert_eq!(
        miner.template(opened_news).map(|t| (t.text, t.count)),
        Some(("session opened for user <*> by (uid=<*>)".into(), 2))
    );
    assert_eq!(miner.insert("session closed for user test"), closed);
    assert_eq!(miner.len(), 2);
    // Words that tell events apart fill one context only, however often.
    let mut events = Vec::new();
    for i in 0..20 {
        for verb in ["Started", "Paused", "Resumed", "Stopped"] {
            events.push(miner.insert(&format!("[instance: {i:08x}-aa] VM {verb} (Lifecycle Event)")));
        }
    }
    let distinct: std::collections::HashSet<TemplateId> = events.iter().map(|id| miner.resolve(*id)).collect();
    assert_eq!(distinct.len(), 4);
}

#[test]
fn duplicate_ids_in_a_serialised_state_are_rejected() {
    let mut miner = Miner::new(MinerConfig::default());
    miner.insert("one line");
    let mut value = serde_json::to_value(&miner).expect("serialises");
    let clusters = value["clusters"].as_array().cloned().expect("clusters");
    value["clusters"] = serde_json::Value::Array([clusters.clone(), clusters].concat());
    assert!(serde_json::from_value::<Miner>(value).is_err());
}

#[test]
fn merging_two_shards_gives_the_groups_of_one_miner() {
    let lines = fixture();
    let mut whole = Miner::new(MinerConfig::default());
    let whole_ids: Vec<TemplateId> = lines.iter().map(|l| whole.insert(l)).collect();
    let whole_ids: Vec<TemplateId> = whole_ids.into_iter().map(|id| whole.resolve(id)).collect();

    let (left, right) = lines.split_at(lines.len() / 2);
    let mut a = Miner::new(MinerConfig::default());
    let mut b = Miner::new(MinerConfig::default());
    let a_ids: Vec<TemplateId> = left.iter().map(|l| a.insert(l)).collect();
    let b_ids: Vec<TemplateId> = right.iter().map(|l| b.insert(l)).collect();
    let mapping = a.merge(&b);
    // Ids the shards returned early may have been merged since: resolve them.
    let a_ids: Vec<TemplateId> = a_ids.into_iter().map(|id| a.resolve(id)).collect();
    let b_ids: Vec<TemplateId> = b_ids.into_iter().map(|id| b.resolve(id)).collect();
    let merged_ids: Vec<TemplateId> = a_ids.into_iter().chain(b_ids.iter().map(|id| mapping[id])).collect();

    assert_eq!(groups(&merged_ids), groups(&whole_ids));
    assert_eq!(a.len(), whole.len());
    let total: u64 = a.templates().map(|t| t.count).sum();
    assert_eq!(total, lines.len() as u64);
    // Every line of the log is matched by the merged miner to the group it was given.
    for (line, id) in lines.iter().zip(&merged_ids) {
        assert_eq!(a.match_line(line), Some(*id), "{line}");
    }
}
