//! Actions caches.

use crate::client_for;
use crate::server::{FakeGitHub, REPO};
use aetherveil_github::Error;
use axum::http::Method;

#[tokio::test]
async fn list_caches_all_and_by_key_prefix() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let all = gh.list_caches(REPO, None).await?;
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].id, 1);
    assert_eq!(all[0].git_ref, "refs/heads/main");
    assert_eq!(all[0].key, "Linux-node-aaa");
    assert_eq!(all[0].size_in_bytes, Some(1024));
    assert!(all[0].last_accessed_at.is_some() && all[0].version.is_some());

    let node = gh.list_caches(REPO, Some("Linux-node")).await?;
    assert_eq!(node.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);
    let cargo = gh.list_caches(REPO, Some("Linux-cargo-abc+def")).await?;
    assert_eq!(cargo.len(), 2, "a '+' in the key is encoded, not read as a space");
    Ok(())
}

#[tokio::test]
async fn delete_cache_by_id() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    gh.delete_cache(REPO, 1).await?;
    assert_eq!(server.requests_to(Method::DELETE, &format!("/repos/{REPO}/actions/caches/1")).len(), 1);
    assert_eq!(gh.list_caches(REPO, None).await?.len(), 3);
    let err = gh.delete_cache(REPO, 1).await.expect_err("already gone");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn delete_caches_by_key_and_ref() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let deleted = gh.delete_caches_by_key(REPO, "Linux-cargo-abc+def", Some("refs/pull/1/merge")).await?;
    assert_eq!(deleted.iter().map(|c| c.id).collect::<Vec<_>>(), [3]);
    let request = server.requests_to(Method::DELETE, &format!("/repos/{REPO}/actions/caches")).remove(0);
    assert_eq!(request.query, "key=Linux-cargo-abc%2Bdef&ref=refs%2Fpull%2F1%2Fmerge");

    let deleted = gh.delete_caches_by_key(REPO, "Linux-cargo-abc+def", None).await?;
    assert_eq!(deleted.iter().map(|c| c.id).collect::<Vec<_>>(), [4]);
    let err = gh.delete_caches_by_key(REPO, "Linux-cargo-abc+def", None).await.expect_err("none left");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    Ok(())
}
