//! S3-compatible object storage: `PUT`, `GET` and `DELETE` of one object, signed with AWS
//! Signature Version 4 (header form, signed payload). Path-style URLs by default
//! (`{endpoint}/{bucket}/{key}`: AWS, MinIO, Ceph, Garage, …); virtual-hosted style
//! (`{bucket}.{endpoint host}/{key}`) on request.
//!
//! Redirects are not followed (a redirect would resend the signed request elsewhere); the
//! `Authorization` header is marked sensitive; the secret key is a [`SecretString`] that
//! `Debug` never prints.

use super::{BlobError, BlobFuture, BlobStore, validate_key};
use crate::channels::{build_http_client, hex_lower};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What [`S3BlobStore::new`] needs.
pub struct S3Settings {
    /// Scheme, host and optional port (and optional path prefix) of the service, e.g.
    /// `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    /// Signing region, e.g. `us-east-1` (what most S3-compatible stores expect by default).
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// `{endpoint}/{bucket}/{key}` when true, `{bucket}.{endpoint host}/{key}` when false.
    pub path_style: bool,
    /// Whole-request timeout of each call.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Blobs as objects in an S3-compatible bucket.
pub struct S3BlobStore {
    /// `http` or `https`.
    scheme: String,
    /// The `Host` header: `host[:port]`, with `bucket.` in front for virtual-hosted style.
    host: String,
    /// The endpoint's path prefix, without a trailing `/` (usually empty).
    prefix: String,
    bucket: String,
    region: String,
    access_key_id: String,
    secret_access_key: SecretString,
    path_style: bool,
    http: reqwest::Client,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// Checks the settings (errors name the setting, never its value) and builds the client.
    pub fn new(s: S3Settings) -> Result<Self, BlobError> {
        let url = reqwest::Url::parse(s.endpoint.trim())
            .map_err(|_| BlobError::Settings("s3_endpoint is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BlobError::Settings(
                "s3_endpoint must start with https:// (or http://)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BlobError::Settings(
                "s3_endpoint must not carry credentials (use s3_access_key_id and s3_secret_access_key)",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BlobError::Settings(
                "s3_endpoint must not have a query or fragment",
            ));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(BlobError::Settings("s3_endpoint has no host"))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let bucket = s.bucket.trim();
        let bucket_ok = !bucket.is_empty()
            && bucket.len() <= 255
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !bucket_ok {
            return Err(BlobError::Settings(
                "s3_bucket must be 1-255 characters of letters, digits, '-', '_' and '.'",
            ));
        }
        let dns_bucket = bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'));
        if !s.path_style && !dns_bucket {
            return Err(BlobError::Settings(
                "with s3_path_style = false, s3_bucket must be lowercase letters, digits, '-' and '.'",
            ));
        }
        let region = s.region.trim();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err(BlobError::Settings(
                "s3_region must be letters, digits, '-' and '_' (e.g. us-east-1)",
            ));
        }
        let key_id = s.access_key_id.trim();
        if key_id.is_empty()
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'='))
        {
            return Err(BlobError::Settings(
                "s3_access_key_id must be printable ASCII without spaces, '/', ',' or '='",
            ));
        }
        if s.secret_access_key.expose_secret().is_empty() {
            return Err(BlobError::Settings("s3_secret_access_key is empty"));
        }
        let http = build_http_client(s.timeout)
            .map_err(|_| BlobError::Settings("could not build the HTTP client"))?;
        Ok(Self {
            scheme: url.scheme().to_owned(),
            host: if s.path_style {
                host
            } else {
                format!("{bucket}.{host}")
            },
            prefix: url.path().trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            access_key_id: key_id.to_owned(),
            secret_access_key: s.secret_access_key,
            path_style: s.path_style,
            http,
        })
    }

    /// The URI-encoded absolute path of an object (the key must be valid).
    fn object_path(&self, key: &str) -> String {
        let mut path = self.prefix.clone();
        if self.path_style {
            path.push('/');
            path.push_str(&uri_encode(&self.bucket));
        }
        for segment in key.split('/') {
            path.push('/');
            path.push_str(&uri_encode(segment));
        }
        path
    }

    /// Sends one signed request for `key`.
    async fn send(
        &self,
        method: Method,
        key: &str,
        body: &[u8],
    ) -> Result<reqwest::Response, BlobError> {
        validate_key(key)?;
        let path = self.object_path(key);
        let payload_sha256 = hex_lower(&Sha256::digest(body));
        let amz_date = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let headers = [
            ("host", self.host.as_str()),
            ("x-amz-content-sha256", payload_sha256.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        let auth = authorization(
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            &amz_date,
            &CanonicalRequest {
                method: method.as_str(),
                path: &path,
                query: "",
                headers: &headers,
                payload_sha256: &payload_sha256,
            },
        )
        .ok_or(BlobError::Http("signing"))?;
        let mut auth = HeaderValue::from_str(&auth).map_err(|_| BlobError::Http("signing"))?;
        auth.set_sensitive(true);
        let url = format!("{}://{}{path}", self.scheme, self.host);
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(HOST, self.host.as_str())
            .header("x-amz-content-sha256", payload_sha256.as_str())
            .header("x-amz-date", amz_date.as_str())
            .header(AUTHORIZATION, auth);
        if method == Method::PUT {
            req = req
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.to_vec());
        }
        req.send().await.map_err(|e| transport(&e))
    }
}

/// A short, fixed reason for a transport failure (reqwest's own message includes the URL).
fn transport(e: &reqwest::Error) -> BlobError {
    BlobError::Http(if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    })
}

impl BlobStore for S3BlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let resp = self.send(Method::PUT, key, bytes).await?;
            let status = resp.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(BlobError::Status(status.as_u16()))
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let resp = self.send(Method::GET, key, &[]).await?;
            let status = resp.status();
            if status.is_success() {
                let bytes = resp.bytes().await.map_err(|e| transport(&e))?;
                Ok(bytes.to_vec())
            } else if status == reqwest::StatusCode::NOT_FOUND {
                Err(BlobError::NotFound)
            } else {
                Err(BlobError::Status(status.as_u16()))
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let resp = self.send(Method::DELETE, key, &[]).await?;
            let status = resp.status();
            if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
                Ok(())
            } else {
                Err(BlobError::Status(status.as_u16()))
            }
        })
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}

// --- Signature Version 4 -------------------------------------------------------------------

/// The parts of a request that SigV4 signs.
pub(crate) struct CanonicalRequest<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The absolute path exactly as sent, already URI-encoded (S3 does not encode it twice).
    pub path: &'a str,
    /// The canonical query string (sorted, encoded); empty when there is none.
    pub query: &'a str,
    /// Every signed header (names in any case). Must include `host`, `x-amz-date` and,
    /// for S3, `x-amz-content-sha256`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the payload.
    pub payload_sha256: &'a str,
}

impl CanonicalRequest<'_> {
    /// The header names, lowercase, sorted and `;`-joined.
    pub(crate) fn signed_headers(&self) -> String {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        names.sort();
        names.join(";")
    }

    /// The canonical request text: method, path, query, headers, signed headers, payload hash.
    pub(crate) fn text(&self) -> String {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    v.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        format!(
            "{}\n{}\n{}\n{canonical_headers}\n{}\n{}",
            self.method,
            self.path,
            self.query,
            self.signed_headers(),
            self.payload_sha256
        )
    }
}

/// The scope `YYYYMMDD/region/s3/aws4_request` of an `x-amz-date` (`YYYYMMDDTHHMMSSZ`).
fn scope(amz_date: &str, region: &str) -> Option<String> {
    let day = amz_date.get(..8)?;
    Some(format!("{day}/{region}/s3/aws4_request"))
}

/// The string to sign for a canonical request.
pub(crate) fn string_to_sign(amz_date: &str, region: &str, canonical: &str) -> Option<String> {
    Some(format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        scope(amz_date, region)?,
        hex_lower(&Sha256::digest(canonical.as_bytes()))
    ))
}

/// HMAC-SHA256. `None` never happens in practice (HMAC takes keys of any length).
fn hmac_sha256(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().to_vec())
}

/// The hex signature of a string to sign.
pub(crate) fn signature(
    secret: &SecretString,
    amz_date: &str,
    region: &str,
    string_to_sign: &str,
) -> Option<String> {
    let day = amz_date.get(..8)?;
    let k_secret = format!("AWS4{}", secret.expose_secret());
    let k_date = hmac_sha256(k_secret.as_bytes(), day.as_bytes())?;
    let k_region = hmac_sha256(&k_date, region.as_bytes())?;
    let k_service = hmac_sha256(&k_region, b"s3")?;
    let k_signing = hmac_sha256(&k_service, b"aws4_request")?;
    Some(hex_lower(&hmac_sha256(
        &k_signing,
        string_to_sign.as_bytes(),
    )?))
}

/// The `Authorization` header value for a request.
pub(crate) fn authorization(
    access_key_id: &str,
    secret: &SecretString,
    region: &str,
    amz_date: &str,
    req: &CanonicalRequest<'_>,
) -> Option<String> {
    let to_sign = string_to_sign(amz_date, region, &req.text())?;
    Some(format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{}, SignedHeaders={}, Signature={}",
        scope(amz_date, region)?,
        req.signed_headers(),
        signature(secret, amz_date, region, &to_sign)?
    ))
}

/// SigV4 URI encoding of one path segment: unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// as they are, every other byte as `%XX` (uppercase hex).
pub(crate) fn uri_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
