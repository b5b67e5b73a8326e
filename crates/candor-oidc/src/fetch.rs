//! Talking to the provider over HTTP: a client with a timeout and no redirects, and size-capped reads.

use std::time::Duration;

use crate::error::OidcError;

/// How long one request to the provider may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Documents larger than this (discovery, JWKS, token response) are refused.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// An HTTP client for talking to the provider: rustls with ring, a 10 s timeout, no redirects
/// (the token request carries the client secret, and discovery must not be sent elsewhere).
pub fn http_client() -> Result<reqwest::Client, OidcError> {
    // The workspace builds reqwest without a default crypto provider; ring is the one we use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| OidcError::Unreachable {
            what: "provider (building the HTTP client)",
            url: String::new(),
            detail: error_chain(&e),
        })
}

/// GETs a JSON document, checking the status and the size.
pub(crate) async fn get_document(
    http: &reqwest::Client,
    what: &'static str,
    url: &str,
) -> Result<Vec<u8>, OidcError> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| OidcError::Unreachable {
            what,
            url: url.to_owned(),
            detail: error_chain(&e),
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(OidcError::HttpStatus {
            what,
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    read_capped(response, what, url).await
}

/// Reads a response body, refusing more than [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    what: &'static str,
    url: &str,
) -> Result<Vec<u8>, OidcError> {
    let too_big = || OidcError::BadDocument {
        what,
        url: url.to_owned(),
        detail: format!("it is larger than {MAX_DOCUMENT_BYTES} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| OidcError::Unreachable {
            what,
            url: url.to_owned(),
            detail: error_chain(&e),
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its causes on one line, without the URL (the caller names it).
fn error_chain(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        format!("timed out after {} s", HTTP_TIMEOUT.as_secs())
    } else {
        String::from("request failed")
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
