//! Call recordings (off by default; a clinic turns them on for its Twilio line with the
//! channel setting `record_calls=true`).
//!
//! 1. The caller hears the recording notice (`recording_notice`, or [`DEFAULT_NOTICE`]) and
//!    only then does the recording start (`<Start><Recording>`, see `channels::voice`). The
//!    notice is also written into the call's transcript.
//! 2. Twilio's `completed` callback files the recording under its call and queues a
//!    `recording.fetch` job (`http/voice.rs`).
//! 3. The job ([`fetch`]) downloads the audio from Twilio, seals it with the patient's data key
//!    (so erasing the patient makes it unreadable), writes the sealed bytes to the blob store
//!    (a local directory by default, S3-compatible storage by config), records where it is, and
//!    then deletes the recording at Twilio, finishing the job in the same transaction. Every
//!    step can run again after a crash: a stored recording is not fetched twice, and deleting
//!    a recording Twilio no longer has counts as done.

use crate::blobs::{BlobError, BlobStore};
use crate::channels::{SendError, TwilioClient, hex_lower};
use frontdesk_domain::{RecordingId, TenantId};
use frontdesk_store::{
    ChannelAccount, FetchRecordingJob, Job, Provider, RecordingStatus, Store, StoreError,
};
use sha2::{Digest, Sha256};

/// Where Twilio posts recording status callbacks (`?to=` names the clinic's number).
pub const RECORDING_PATH: &str = "/webhooks/twilio/voice/recording";

/// Said before the recording starts when the clinic wrote no notice of its own.
pub const DEFAULT_NOTICE: &str = "This call is recorded and kept securely with your clinic \
    record. If you would rather not be recorded, please hang up and send us a message instead.";

/// The recording notice when the clinic records calls on this Twilio line, else `None`.
pub fn notice(account: &ChannelAccount) -> Option<String> {
    let on = account.config["record_calls"]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    on.then(|| {
        account.config["recording_notice"]
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_NOTICE)
            .to_owned()
    })
}

/// The callback URL given to Twilio: `{base}{RECORDING_PATH}?to={our number}`.
pub fn callback_url(base: &str, our_number: &str) -> String {
    let query = serde_urlencoded::to_string([("to", our_number)]).unwrap_or_default();
    format!("{base}{RECORDING_PATH}?{query}")
}

/// The clinic's number from a callback URL's query (signed by Twilio with the URL).
pub fn number_in_query(uri: &axum::http::Uri) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query()?).ok()?;
    pairs.into_iter().find(|(k, _)| k == "to").map(|(_, v)| v)
}

/// Where a recording's sealed audio lives in the blob store.
pub fn blob_key(tenant: TenantId, id: RecordingId) -> String {
    format!("recordings/{tenant}/{id}")
}

/// Why a fetch job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("twilio: {0}")]
    Twilio(#[from] SendError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error("no Twilio account with credentials for this clinic")]
    NoAccount,
    #[error("this process has no blob store for recordings")]
    NoBlobStore,
}

impl FetchError {
    /// Worth trying again later (the worker backs off); otherwise the job fails for good and
    /// the staff are alerted.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => !matches!(e, StoreError::Corrupt(_) | StoreError::NotFound),
            Self::Twilio(e) => e.is_retryable(),
            Self::Blob(e) => !matches!(e, BlobError::InvalidKey),
            Self::NoAccount => false,
            Self::NoBlobStore => true,
        }
    }

    /// A short code for the job's error column and logs (never a secret or a URL).
    pub fn code(&self) -> &str {
        match self {
            Self::Store(_) => "store",
            Self::Twilio(e) => e.code(),
            Self::Blob(_) => "blob_store",
            Self::NoAccount => "no_twilio_account",
            Self::NoBlobStore => "no_blob_store",
        }
    }
}

/// Runs one `recording.fetch` job (see the module docs).
pub async fn fetch(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    twilio: &TwilioClient,
    job: &Job,
) -> Result<(), FetchError> {
    let scope = job.lease.scope;
    let payload: FetchRecordingJob = serde_json::from_value(job.payload.clone())
        .map_err(|_| StoreError::Corrupt("recording job payload"))?;
    let recording = store.recording(scope, payload.recording).await?;
    let account = match store.channel_account(scope, Provider::Twilio).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(FetchError::NoAccount),
        Err(e) => return Err(e.into()),
    };
    let account_sid = account.config["account_sid"].as_str().unwrap_or_default();
    let token = account.secrets.get("auth_token").unwrap_or_default();
    if account_sid.is_empty() || token.is_empty() {
        return Err(FetchError::NoAccount);
    }
    if recording.status != RecordingStatus::Stored {
        let audio = twilio
            .download_recording(account_sid, token, &recording.recording_sid)
            .await?;
        let sealed = store.seal_recording(scope, recording.id, &audio).await?;
        drop(audio);
        let key = blob_key(scope.tenant_id(), recording.id);
        blobs.put(&key, &sealed).await?;
        let digest = hex_lower(&Sha256::digest(&sealed));
        let size = i64::try_from(sealed.len()).unwrap_or(i64::MAX);
        store
            .recording_stored(scope, recording.id, &key, size, &digest)
            .await?;
    }
    twilio
        .delete_recording(account_sid, token, &recording.recording_sid)
        .await?;
    store
        .recording_deleted_at_provider(&job.lease, recording.id)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_url_carries_our_number_and_reads_back() {
        let url = callback_url("https://fd.example", "+6495550100");
        assert_eq!(
            url,
            "https://fd.example/webhooks/twilio/voice/recording?to=%2B6495550100"
        );
        let uri: axum::http::Uri = url.parse().unwrap_or_default();
        assert_eq!(number_in_query(&uri).as_deref(), Some("+6495550100"));
        let none: axum::http::Uri = "/webhooks/twilio/voice/recording"
            .parse()
            .unwrap_or_default();
        assert_eq!(number_in_query(&none), None);
    }
}
