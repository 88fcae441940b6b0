//! Tests of the blob stores: key rules, the local directory store, SigV4 signing against
//! AWS's documented example, and the S3 store against a fake on loopback.

use super::s3::{CanonicalRequest, authorization, signature, string_to_sign, uri_encode};
use super::*;
use crate::channels::hex_lower;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::time::Duration;
use wiremock::matchers::{body_bytes, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str =
    "recordings/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

const BAD_KEYS: &[&str] = &[
    "", "../x", "/abs", "a//b", "a/../b", "a/./b", "a/..", "..", ".", "a/", ".hidden", "a/.b",
    "a..b", "a b", "a\tb", "a\\b", "a?b", "a#b", "a%2fb", "a:b", "é", "a\0b",
];

#[test]
fn keys_are_validated_strictly() {
    for k in [KEY, "a", "a/b.c", "A-Z_a-z.0-9/x", "recordings/t/r.ogg.enc"] {
        assert!(validate_key(k).is_ok(), "{k:?} should be accepted");
    }
    for k in BAD_KEYS {
        assert!(
            matches!(validate_key(k), Err(BlobError::InvalidKey)),
            "{k:?} should be refused"
        );
    }
    let longest = "a".repeat(MAX_KEY_LEN);
    assert!(validate_key(&longest).is_ok());
    assert!(matches!(
        validate_key(&format!("{longest}b")),
        Err(BlobError::InvalidKey)
    ));
}

// --- local ---------------------------------------------------------------------------------

#[tokio::test]
async fn local_round_trip_replace_and_idempotent_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::new(dir.path().join("blobs"));
    assert_eq!(store.kind(), "local");
    assert!(matches!(store.get(KEY).await, Err(BlobError::NotFound)));

    store.put(KEY, b"first version").await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), b"first version");
    store.put(KEY, b"second").await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), b"second", "put replaces");
    store.put(KEY, b"").await.unwrap();
    assert_eq!(
        store.get(KEY).await.unwrap(),
        b"",
        "empty objects are objects"
    );

    // No temp files are left behind next to the object.
    let object_dir = store.root().join(KEY).parent().unwrap().to_owned();
    let names: Vec<String> = std::fs::read_dir(&object_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![KEY.rsplit('/').next().unwrap().to_owned()]);

    store.delete(KEY).await.unwrap();
    assert!(matches!(store.get(KEY).await, Err(BlobError::NotFound)));
    store.delete(KEY).await.unwrap();
    store.delete("never/existed").await.unwrap();
}

#[tokio::test]
async fn stores_are_usable_as_shared_trait_objects_across_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(dir.path()));
    let task = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            let key = format!("recordings/{}/{}", "t", "r");
            store.put(&key, &[1, 2, 3]).await?;
            store.get(&key).await
        }
    });
    assert_eq!(task.await.unwrap().unwrap(), vec![1, 2, 3]);
    assert_eq!(store.kind(), "local");
}

#[tokio::test]
async fn local_keys_are_independent_and_nested_misses_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::new(dir.path());
    store.put("recordings/t1/r1", b"one").await.unwrap();
    store.put("recordings/t2/r1", b"two").await.unwrap();
    assert_eq!(store.get("recordings/t1/r1").await.unwrap(), b"one");
    assert_eq!(store.get("recordings/t2/r1").await.unwrap(), b"two");
    // A "directory" below an existing object: there is nothing there.
    assert!(matches!(
        store.get("recordings/t1/r1/x").await,
        Err(BlobError::NotFound)
    ));
    store.delete("recordings/t1/r1/x").await.unwrap();
}

#[tokio::test]
async fn local_refuses_invalid_keys_without_touching_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = LocalBlobStore::new(&root);
    for k in BAD_KEYS {
        assert!(
            matches!(store.put(k, b"x").await, Err(BlobError::InvalidKey)),
            "{k:?}"
        );
        assert!(
            matches!(store.get(k).await, Err(BlobError::InvalidKey)),
            "{k:?}"
        );
        assert!(
            matches!(store.delete(k).await, Err(BlobError::InvalidKey)),
            "{k:?}"
        );
    }
    assert!(!root.exists(), "nothing was created");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing escaped the root"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn local_files_are_0600_and_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings-root");
    let store = LocalBlobStore::new(&root);
    store.put(KEY, b"secret audio").await.unwrap();
    store.put(KEY, b"replaced audio").await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root.join(KEY)), 0o600);
    let mut d = root.join(KEY).parent().unwrap().to_owned();
    while d.starts_with(&root) {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        d = d.parent().unwrap().to_owned();
    }
}

#[test]
fn a_bare_file_name_lives_in_the_current_directory() {
    // `recordings_dir` may be relative (`recordings` next to `sqlite://frontdesk.db`); the
    // directory to fsync for a bare name is `.`, never the empty path.
    assert_eq!(parent_dir(Path::new("k")), Path::new("."));
    assert_eq!(
        parent_dir(Path::new("recordings/k")),
        Path::new("recordings")
    );
    assert_eq!(parent_dir(Path::new("/k")), Path::new("/"));
}

#[test]
fn errors_say_what_failed_without_details() {
    assert_eq!(BlobError::NotFound.to_string(), "blob not found");
    assert_eq!(BlobError::InvalidKey.to_string(), "invalid blob key");
    assert_eq!(
        BlobError::Status(503).to_string(),
        "blob store answered HTTP 503"
    );
    assert_eq!(
        BlobError::Http("timeout").to_string(),
        "blob store request failed: timeout"
    );
}

// --- SigV4 ---------------------------------------------------------------------------------

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// AWS's "Example: GET Object" of "Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk" (Amazon S3 API reference, sig-v4-header-based-auth).
#[test]
fn signature_matches_the_aws_get_object_example() {
    let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned());
    let amz_date = "20130524T000000Z";
    let headers = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", amz_date),
    ];
    let req = CanonicalRequest {
        method: "GET",
        path: "/test.txt",
        query: "",
        headers: &headers,
        payload_sha256: EMPTY_SHA256,
    };
    assert_eq!(
        req.text(),
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let to_sign = string_to_sign(amz_date, "us-east-1", &req.text()).unwrap();
    assert_eq!(
        to_sign,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
    assert_eq!(
        signature(&secret, amz_date, "us-east-1", &to_sign).unwrap(),
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert_eq!(
        authorization("AKIAIOSFODNN7EXAMPLE", &secret, "us-east-1", amz_date, &req).unwrap(),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn header_values_are_trimmed_and_spaces_collapsed() {
    let headers = [("X-Amz-Meta-A", "  a   b  "), ("host", "h")];
    let req = CanonicalRequest {
        method: "PUT",
        path: "/",
        query: "",
        headers: &headers,
        payload_sha256: EMPTY_SHA256,
    };
    assert!(
        req.text()
            .contains("\nhost:h\nx-amz-meta-a:a b\n\nhost;x-amz-meta-a\n")
    );
}

#[test]
fn path_segments_are_uri_encoded() {
    assert_eq!(uri_encode("AZaz09-._~"), "AZaz09-._~");
    assert_eq!(uri_encode("a b/c+é"), "a%20b%2Fc%2B%C3%A9");
}

// --- S3 against a fake ---------------------------------------------------------------------

const KEY_ID: &str = "AKIDFRONTDESKTEST";
const SECRET: &str = "Sup3rS3cretAccessKey/ForTestsOnly+xyz";

fn settings(endpoint: &str) -> S3Settings {
    S3Settings {
        endpoint: endpoint.to_owned(),
        bucket: "bucket".to_owned(),
        region: "eu-central-1".to_owned(),
        access_key_id: KEY_ID.to_owned(),
        secret_access_key: SecretString::from(SECRET.to_owned()),
        path_style: true,
        timeout: Duration::from_secs(5),
    }
}

fn header<'r>(req: &'r Request, name: &str) -> &'r str {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Recomputes the signature from what the fake received: the store signed exactly what it sent.
fn assert_signed(req: &Request, body: &[u8]) {
    let sha = hex_lower(&Sha256::digest(body));
    assert_eq!(header(req, "x-amz-content-sha256"), sha);
    let amz_date = header(req, "x-amz-date");
    assert_eq!(amz_date.len(), 16, "{amz_date}");
    assert!(amz_date.ends_with('Z') && amz_date.as_bytes()[8] == b'T');
    let auth = header(req, "authorization");
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/")),
        "{auth}"
    );
    assert!(auth.contains("/eu-central-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="));
    let host = header(req, "host");
    let headers = [
        ("host", host),
        ("x-amz-content-sha256", sha.as_str()),
        ("x-amz-date", amz_date),
    ];
    let expected = authorization(
        KEY_ID,
        &SecretString::from(SECRET.to_owned()),
        "eu-central-1",
        amz_date,
        &CanonicalRequest {
            method: req.method.as_str(),
            path: req.url.path(),
            query: "",
            headers: &headers,
            payload_sha256: &sha,
        },
    )
    .unwrap();
    assert_eq!(auth, expected);
}

#[tokio::test]
async fn s3_put_get_delete_round_trip_on_a_fake() {
    let server = MockServer::start().await;
    let object = format!("/bucket/{KEY}");
    let audio: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    Mock::given(method("PUT"))
        .and(path(object.as_str()))
        .and(body_bytes(audio.clone()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(object.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(audio.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/recordings/t/missing"))
        .respond_with(
            ResponseTemplate::new(404).set_body_string("<Error><Code>NoSuchKey</Code></Error>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(object.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/bucket/recordings/t/missing"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;

    let store = S3BlobStore::new(settings(&server.uri())).unwrap();
    assert_eq!(store.kind(), "s3");
    store.put(KEY, &audio).await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), audio);
    assert!(matches!(
        store.get("recordings/t/missing").await,
        Err(BlobError::NotFound)
    ));
    store.delete(KEY).await.unwrap();
    store.delete("recordings/t/missing").await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 5);
    assert_signed(&received[0], &audio);
    assert_eq!(header(&received[0], "host"), server.address().to_string());
    for req in &received[1..] {
        assert_signed(req, b"");
    }
}

#[tokio::test]
async fn s3_errors_carry_the_status_only_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string("SignatureDoesNotMatch"))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let store = S3BlobStore::new(settings(&server.uri())).unwrap();
    let put = store.put(KEY, b"audio").await.unwrap_err();
    assert!(matches!(put, BlobError::Status(500)), "{put:?}");
    let get = store.get(KEY).await.unwrap_err();
    assert!(matches!(get, BlobError::Status(403)), "{get:?}");
    let del = store.delete(KEY).await.unwrap_err();
    assert!(matches!(del, BlobError::Status(503)), "{del:?}");
    for e in [&put, &get, &del] {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(SECRET) && !text.contains(KEY), "{text}");
        }
    }
    let debug = format!("{store:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!format!("{:?}", settings("http://x")).contains(SECRET));
    // Invalid keys never reach the network.
    assert!(matches!(
        store.get("../etc/passwd").await,
        Err(BlobError::InvalidKey)
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn s3_timeouts_and_unreachable_endpoints_are_transport_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.timeout = Duration::from_millis(300);
    let store = S3BlobStore::new(s).unwrap();
    assert!(matches!(
        store.get(KEY).await,
        Err(BlobError::Http("timeout"))
    ));

    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = S3BlobStore::new(settings(&format!("http://127.0.0.1:{port}"))).unwrap();
    let err = store.put(KEY, b"x").await.unwrap_err();
    assert!(matches!(err, BlobError::Http("connect")), "{err:?}");
}

#[tokio::test]
async fn s3_endpoint_path_prefix_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/storage/bucket/a/b"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let store = S3BlobStore::new(settings(&format!("{}/storage/", server.uri()))).unwrap();
    store.put("a/b", b"x").await.unwrap();
    assert_signed(&server.received_requests().await.unwrap()[0], b"x");
}

#[test]
fn s3_virtual_hosted_style_puts_the_bucket_in_the_host() {
    let mut s = settings("https://s3.eu-central-1.amazonaws.com");
    s.path_style = false;
    let store = S3BlobStore::new(s).unwrap();
    let debug = format!("{store:?}");
    assert!(
        debug.contains("\"bucket.s3.eu-central-1.amazonaws.com\""),
        "{debug}"
    );
    let mut s = settings("https://s3.eu-central-1.amazonaws.com");
    s.path_style = false;
    s.bucket = "Not_DNS".to_owned();
    assert!(matches!(S3BlobStore::new(s), Err(BlobError::Settings(_))));
}

#[test]
fn s3_settings_are_checked_without_echoing_values() {
    let cases: Vec<(S3Settings, &str)> = vec![
        (settings("not a url"), "s3_endpoint"),
        (settings("ftp://host"), "s3_endpoint"),
        (settings("https://user:hunter2@host"), "s3_endpoint"),
        (settings("https://host/?x=hunter2"), "s3_endpoint"),
        (
            S3Settings {
                bucket: "a/hunter2".to_owned(),
                ..settings("https://host")
            },
            "s3_bucket",
        ),
        (
            S3Settings {
                bucket: String::new(),
                ..settings("https://host")
            },
            "s3_bucket",
        ),
        (
            S3Settings {
                region: "us east hunter2".to_owned(),
                ..settings("https://host")
            },
            "s3_region",
        ),
        (
            S3Settings {
                access_key_id: "AK/hunter2".to_owned(),
                ..settings("https://host")
            },
            "s3_access_key_id",
        ),
        (
            S3Settings {
                secret_access_key: SecretString::from(String::new()),
                ..settings("https://host")
            },
            "s3_secret_access_key",
        ),
    ];
    for (s, option) in cases {
        let msg = S3BlobStore::new(s).unwrap_err().to_string();
        assert!(msg.contains(option), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
