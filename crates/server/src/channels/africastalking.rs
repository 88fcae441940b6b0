//! Africa's Talking SMS (Kenya and the region), inbound side. AT does not sign its callbacks,
//! so each tenant's callback URL carries a secret path token checked here in constant time;
//! then incoming messages and delivery reports are parsed into [`InboundEvent`]s. The send
//! client lives in `africastalking_client.rs`.

use super::{DeliveryStatus, InboundEvent, InboundMessage, ParseError, StatusUpdate, secret_eq};

/// Constant-time check of the secret token in the callback path. An empty expected token
/// never matches, so a tenant without a configured token cannot be called back at all.
pub fn verify_callback_token(expected: &[u8], given: &str) -> bool {
    secret_eq(expected, given.as_bytes())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Parses an incoming-SMS callback (`from`, `to`, `text`, `id`, `date`, `linkId`) or a
/// delivery report (`id`, `status`, `failureReason`; no `text`). `linkId` (premium on-demand
/// replies) is not kept: we only send standard bulk SMS. `date` becomes `sent_at` only when it
/// carries an explicit offset (RFC 3339); a naive local time is ambiguous and left out.
pub fn parse_inbound(params: &[(String, String)]) -> Result<InboundEvent, ParseError> {
    let id = param(params, "id")
        .ok_or(ParseError::MissingField("id"))?
        .to_owned();
    let text = params.iter().find(|(k, _)| k == "text").map(|(_, v)| v);
    if let (Some(status), None) = (param(params, "status"), text) {
        let (status, error_code) = delivery_status(status, param(params, "failureReason"))?;
        return Ok(InboundEvent::Status(StatusUpdate {
            provider_message_id: id,
            to: String::new(),
            status,
            error_code,
        }));
    }
    let from = param(params, "from").ok_or(ParseError::MissingField("from"))?;
    let to = param(params, "to").ok_or(ParseError::MissingField("to"))?;
    let text = text.ok_or(ParseError::MissingField("text"))?;
    let sent_at = param(params, "date")
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    Ok(InboundEvent::Message(InboundMessage {
        provider_message_id: id,
        from: from.to_owned(),
        to: to.to_owned(),
        text: text.clone(),
        reply_id: None,
        sent_at,
    }))
}

/// Maps AT's delivery statuses. `Sent`, `Submitted` and `Buffered` all mean "left AT, not yet
/// on the handset" (Buffered: queued by the telco, e.g. phone off) and map to `Sent` so a
/// status never moves backwards. Failures are permanent or not by `failureReason`; see
/// [`failure_reason`].
fn delivery_status(
    status: &str,
    reason: Option<&str>,
) -> Result<(DeliveryStatus, Option<String>), ParseError> {
    let failed =
        |code: &str, permanent| Ok((DeliveryStatus::Failed { permanent }, Some(code.to_owned())));
    match status {
        "Sent" | "Submitted" | "Buffered" => Ok((DeliveryStatus::Sent, None)),
        "Success" => Ok((DeliveryStatus::Delivered, None)),
        // The handset was off / out of coverage until the telco gave up: worth a later try.
        "AbsentSubscriber" => failed("at_absent_subscriber", false),
        "Expired" => failed("at_expired", false),
        "Rejected" | "Failed" => match reason {
            Some(r) => {
                let (code, permanent) = failure_reason(r);
                failed(code, permanent)
            }
            // No reason: a rejection (by AT or the telco) will recur; a bare failure may not.
            None if status == "Rejected" => failed("at_rejected", true),
            None => failed("at_failed", false),
        },
        _ => Err(ParseError::UnknownStatus),
    }
}

/// AT's documented `failureReason` values as (stable code, permanent). Only our own codes
/// are returned, never the provider's string.
///
/// Retryable: `InsufficientCredit` (our AT balance; succeeds once topped up),
/// `DeliveryFailure` (the telco's catch-all with no specific reason) and `AbsentSubscriber`.
/// Permanent: the subscriber blocked us (`UserInBlackList`: must never be retried, it is an
/// opt-out), does not exist, is inactive or suspended, is on another network, has not
/// subscribed to a premium product, or the `linkId` is invalid. Unknown reasons: permanent.
fn failure_reason(reason: &str) -> (&'static str, bool) {
    match reason {
        "InsufficientCredit" => ("at_insufficient_credit", false),
        "DeliveryFailure" => ("at_delivery_failure", false),
        "AbsentSubscriber" => ("at_absent_subscriber", false),
        "InvalidLinkId" => ("at_invalid_link_id", true),
        "UserIsInactive" => ("at_user_is_inactive", true),
        "UserInBlackList" | "UserInBlacklist" => ("at_user_in_blacklist", true),
        "UserAccountSuspended" => ("at_user_account_suspended", true),
        "NotNetworkSubscriber" | "NotNetworkSubcriber" => ("at_not_network_subscriber", true),
        "UserNotSubscribedToProduct" => ("at_user_not_subscribed_to_product", true),
        "UserDoesNotExist" => ("at_user_does_not_exist", true),
        _ => ("at_unknown_reason", true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn callback_token_is_compared_in_constant_time_and_never_empty() {
        assert!(verify_callback_token(b"9f8e7d", "9f8e7d"));
        assert!(!verify_callback_token(b"9f8e7d", "9f8e7"));
        assert!(!verify_callback_token(b"9f8e7d", ""));
        assert!(!verify_callback_token(b"", ""));
    }

    #[test]
    fn incoming_sms_is_a_message() {
        let ev = parse_inbound(&p(&[
            ("linkId", "SampleLinkId123"),
            ("text", "Nataka kubadilisha miadi"),
            ("to", "22384"),
            ("id", "ATXid_1"),
            ("date", "2024-05-06T07:08:09.000Z"),
            ("from", "+254711000001"),
            ("networkCode", "63902"),
        ]))
        .unwrap();
        assert_eq!(
            ev,
            InboundEvent::Message(InboundMessage {
                provider_message_id: "ATXid_1".into(),
                from: "+254711000001".into(),
                to: "22384".into(),
                text: "Nataka kubadilisha miadi".into(),
                reply_id: None,
                sent_at: Some(1_714_979_289),
            })
        );
    }

    #[test]
    fn a_naive_or_odd_date_is_left_out() {
        for date in ["2024-05-06 07:08:09", "yesterday"] {
            let ev = parse_inbound(&p(&[
                ("id", "a"),
                ("from", "+1"),
                ("to", "2"),
                ("text", "hi"),
                ("date", date),
            ]))
            .unwrap();
            assert!(matches!(ev, InboundEvent::Message(m) if m.sent_at.is_none()));
        }
    }

    fn report(status: &str, reason: Option<&str>) -> StatusUpdate {
        let mut pairs = vec![
            ("id", "ATXid_9"),
            ("status", status),
            ("phoneNumber", "+254711000001"),
            ("networkCode", "63902"),
            ("retryCount", "0"),
        ];
        if let Some(r) = reason {
            pairs.push(("failureReason", r));
        }
        match parse_inbound(&p(&pairs)).unwrap() {
            InboundEvent::Status(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn delivery_reports_map_statuses() {
        use DeliveryStatus::*;
        for s in ["Sent", "Submitted", "Buffered"] {
            assert_eq!(report(s, None).status, Sent, "{s}");
        }
        let ok = report("Success", None);
        assert_eq!(
            (ok.provider_message_id.as_str(), ok.status),
            ("ATXid_9", Delivered)
        );
        let absent = report("AbsentSubscriber", None);
        assert_eq!(absent.status, Failed { permanent: false });
        assert_eq!(report("Expired", None).status, Failed { permanent: false });
    }

    #[test]
    fn failure_reasons_decide_permanence() {
        use DeliveryStatus::*;
        let cases = [
            (
                "Failed",
                Some("InsufficientCredit"),
                false,
                "at_insufficient_credit",
            ),
            (
                "Failed",
                Some("DeliveryFailure"),
                false,
                "at_delivery_failure",
            ),
            (
                "Rejected",
                Some("UserInBlackList"),
                true,
                "at_user_in_blacklist",
            ),
            (
                "Failed",
                Some("UserDoesNotExist"),
                true,
                "at_user_does_not_exist",
            ),
            (
                "Rejected",
                Some("InvalidLinkId"),
                true,
                "at_invalid_link_id",
            ),
            (
                "Failed",
                Some("<script>+2547</script>"),
                true,
                "at_unknown_reason",
            ),
            ("Rejected", None, true, "at_rejected"),
            ("Failed", None, false, "at_failed"),
        ];
        for (status, reason, permanent, code) in cases {
            let r = report(status, reason);
            assert_eq!(r.status, Failed { permanent }, "{status} {reason:?}");
            assert_eq!(r.error_code.as_deref(), Some(code));
        }
    }

    #[test]
    fn malformed_callbacks_are_parse_errors() {
        assert_eq!(parse_inbound(&[]), Err(ParseError::MissingField("id")));
        let unknown = p(&[("id", "a"), ("status", "Exploded")]);
        assert_eq!(parse_inbound(&unknown), Err(ParseError::UnknownStatus));
        let no_from = p(&[("id", "a"), ("to", "2"), ("text", "hi")]);
        assert_eq!(
            parse_inbound(&no_from),
            Err(ParseError::MissingField("from"))
        );
        let no_text = p(&[("id", "a"), ("from", "+1"), ("to", "2")]);
        assert_eq!(
            parse_inbound(&no_text),
            Err(ParseError::MissingField("text"))
        );
    }
}
