//! Anonymous credentials for the Firestore emulator, which does not check tokens but expects the
//! conventional `Authorization: Bearer owner` header. Nothing is looked up on the machine, so
//! tests never pick up a developer's Google credentials.

use firestore::gcloud_sdk::GoogleAuthHeaders;
use firestore::gcloud_sdk::google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use firestore::gcloud_sdk::google_cloud_auth::errors::CredentialsError;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Extensions, HeaderMap};

/// Serves the emulator's stub token, always the same header (so it stays cached).
#[derive(Debug)]
struct EmulatorOwner {
    tag: EntityTag,
}

impl CredentialsProvider for EmulatorOwner {
    async fn headers(&self, extensions: Extensions) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        if extensions.get::<EntityTag>() == Some(&self.tag) {
            return Ok(CacheableResource::NotModified);
        }
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer owner"));
        Ok(CacheableResource::New { entity_tag: self.tag.clone(), data: headers })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}

/// The credentials a client of the emulator sends.
pub(crate) fn emulator_credentials() -> GoogleAuthHeaders {
    GoogleAuthHeaders::from(Credentials::from(EmulatorOwner { tag: EntityTag::new() }))
}
