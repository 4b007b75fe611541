//! What a remote's refusal means, said in pipe's terms: an authentication
//! or permission error is an environment error with a hint about
//! credentials (never a silent miss), a missing bucket says so, anything
//! else names the endpoint.

use pipe_engine::Error;

use crate::config::RemoteConfig;

/// `action`: what we tried ("read `keys/…`", "upload `objects/…`").
pub fn error(config: &RemoteConfig, action: &str, e: &object_store::Error) -> Error {
    let text = e.to_string();
    let code = s3_code(&text);
    let detail = match &code {
        Some(code) => match s3_message(&text) {
            Some(m) => format!("{code}: {m}"),
            None => code.clone(),
        },
        None => text.clone(),
    };
    let who = match &config.credentials {
        Some(c) => format!("the key `{}` (from {})", c.key_id, c.source),
        None => "no credentials".into(),
    };
    let url = &config.url;
    // Listing errors reach us as `Generic`; the S3 code says what they are.
    let refused = matches!(
        e,
        object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. }
    ) || code.as_deref().is_some_and(|c| AUTH_CODES.contains(&c));
    match e {
        _ if refused => {
            Error::environment(format!("the remote `{url}` refused to {action}: {detail}"))
                .with_hint(format!(
                    "{who} may not do that: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
                     (or AWS_PROFILE) and the bucket's permissions; `pipe remote check` tests \
                     reading and writing"
                ))
        }
        _ if code.as_deref() == Some("NoSuchBucket") => Error::environment(format!(
            "the remote `{url}`: the bucket `{}` does not exist",
            config.bucket
        ))
        .with_hint("create it, or point PIPE_REMOTE at an existing bucket"),
        _ => Error::environment(format!("the remote `{url}`: cannot {action}: {detail}"))
            .with_hint(match &config.endpoint {
                Some(ep) => format!("is the server at PIPE_REMOTE_ENDPOINT={ep} running?"),
                None => "check the network, the region (PIPE_REMOTE_REGION) and, for a server \
                         other than AWS, PIPE_REMOTE_ENDPOINT"
                    .into(),
            }),
    }
}

/// S3 error codes that mean "not with these credentials".
const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
];

/// Whether `e` is a missing object (and not a missing bucket).
pub fn is_missing(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
        && s3_code(&e.to_string()).as_deref() != Some("NoSuchBucket")
}

/// Whether a create-only put found the object already there.
pub fn is_taken(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..start + end])
}

/// The S3 error code in a response body (`<Code>AccessDenied</Code>`).
fn s3_code(text: &str) -> Option<String> {
    tag(text, "Code").map(str::to_string)
}

fn s3_message(text: &str) -> Option<String> {
    tag(text, "Message").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_from_bodies() {
        let body = "<Error><Code>InvalidAccessKeyId</Code><Message>no such key</Message></Error>";
        assert_eq!(s3_code(body).as_deref(), Some("InvalidAccessKeyId"));
        assert_eq!(s3_message(body).as_deref(), Some("no such key"));
        assert_eq!(s3_code("connection refused"), None);
    }
}
