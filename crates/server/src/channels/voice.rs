//! Twilio Voice, the TwiML side: what the caller hears and what Twilio does next. Every answer
//! is one small document built here with all text XML-escaped; the conversation itself is the
//! same receptionist as on text channels (see `http/voice.rs`).
//!
//! A turn is `<Gather input="speech">` around the receptionist's words, posting what the
//! caller said back to us (`actionOnEmptyResult`, so silence comes back too and is counted in
//! the action URL). An emergency can `<Dial>` the clinic's escalation number; the end of a
//! call is `<Hangup/>`.

use super::twilio::{TWIML_HEAD, push_xml_text};
use frontdesk_agent::ClinicKnowledge;

/// The webhook path Twilio posts calls and speech turns to.
pub const VOICE_PATH: &str = "/webhooks/twilio/voice";
/// Twilio accepts hints up to 100 characters each; we keep the list itself short too.
const MAX_HINT: usize = 100;
const MAX_HINTS_LEN: usize = 2000;

/// How the clinic's line listens: speech language and the words worth recognising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// BCP 47, e.g. `en-NZ`, `sw-KE`.
    pub language: String,
    /// Comma-separated service and practitioner names.
    pub hints: String,
}

impl Listening {
    /// The clinic's first language with its country (`en` in NZ → `en-NZ`) and its catalogue
    /// as hints.
    pub fn of(knowledge: &ClinicKnowledge) -> Listening {
        let profile = &knowledge.profile;
        let first = profile.languages.first().map_or("en", String::as_str);
        let language = if first.contains('-') {
            first.to_owned()
        } else {
            format!("{first}-{}", profile.country)
        };
        let mut hints = String::new();
        let names = knowledge
            .services
            .iter()
            .map(|s| s.name.as_str())
            .chain(knowledge.practitioners.iter().map(|p| p.name.as_str()));
        for name in names {
            let name: String = name.chars().filter(|c| *c != ',').take(MAX_HINT).collect();
            let name = name.trim();
            if name.is_empty() || hints.len() + name.len() + 2 > MAX_HINTS_LEN {
                continue;
            }
            if !hints.is_empty() {
                hints.push_str(", ");
            }
            hints.push_str(name);
        }
        Listening { language, hints }
    }
}

fn say_all(out: &mut String, words: &[String]) {
    for w in words.iter().filter(|w| !w.trim().is_empty()) {
        out.push_str("<Say>");
        push_xml_text(out, w);
        out.push_str("</Say>");
    }
}

/// The action URL of the next turn: `misses` silent or empty answers in a row so far.
pub fn turn_action(misses: u8) -> String {
    format!("{VOICE_PATH}?turn=1&misses={misses}")
}

/// Says `words`, then listens for the caller's answer.
pub fn gather(words: &[String], listening: &Listening, misses: u8) -> String {
    let mut out = format!("{TWIML_HEAD}<Response>");
    push_gather(&mut out, words, listening, misses);
    out.push_str("</Response>");
    out
}

/// The first answer of a recorded call: the recording notice is said *before* the recording
/// starts (`<Start><Recording>`, whose `completed` callback goes to `callback`), then the
/// greeting and the first turn as in [`gather`].
pub fn gather_recorded(
    notice: &str,
    callback: &str,
    words: &[String],
    listening: &Listening,
) -> String {
    let mut out = format!("{TWIML_HEAD}<Response>");
    say_all(&mut out, &[notice.to_owned()]);
    out.push_str("<Start><Recording recordingStatusCallback=\"");
    push_xml_text(&mut out, callback);
    out.push_str(
        "\" recordingStatusCallbackMethod=\"POST\" recordingStatusCallbackEvent=\"completed\" \
         channels=\"mono\" trim=\"do-not-trim\"/></Start>",
    );
    push_gather(&mut out, words, listening, 0);
    out.push_str("</Response>");
    out
}

fn push_gather(out: &mut String, words: &[String], listening: &Listening, misses: u8) {
    out.push_str("<Gather input=\"speech\" action=\"");
    push_xml_text(out, &turn_action(misses));
    out.push_str(
        "\" method=\"POST\" speechTimeout=\"auto\" actionOnEmptyResult=\"true\" language=\"",
    );
    push_xml_text(out, &listening.language);
    out.push('"');
    if !listening.hints.is_empty() {
        out.push_str(" hints=\"");
        push_xml_text(out, &listening.hints);
        out.push('"');
    }
    out.push('>');
    say_all(out, words);
    out.push_str("</Gather>");
}

/// Says `words`, then connects the caller to `number` (the clinic's escalation line).
pub fn dial(words: &[String], number: &str) -> String {
    let mut out = format!("{TWIML_HEAD}<Response>");
    say_all(&mut out, words);
    out.push_str("<Dial>");
    push_xml_text(&mut out, number);
    out.push_str("</Dial></Response>");
    out
}

/// Says `words` and ends the call.
pub fn hangup(words: &[String]) -> String {
    let mut out = format!("{TWIML_HEAD}<Response>");
    say_all(&mut out, words);
    out.push_str("<Hangup/></Response>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening() -> Listening {
        Listening {
            language: "en-NZ".into(),
            hints: "Sports massage, Mei Chen".into(),
        }
    }

    #[test]
    fn a_turn_says_each_reply_inside_a_speech_gather_that_posts_back() {
        let xml = gather(
            &["Kia ora.".into(), "How can I help?".into()],
            &listening(),
            0,
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather input=\"speech\" \
             action=\"/webhooks/twilio/voice?turn=1&amp;misses=0\" method=\"POST\" speechTimeout=\"auto\" \
             actionOnEmptyResult=\"true\" language=\"en-NZ\" hints=\"Sports massage, Mei Chen\">\
             <Say>Kia ora.</Say><Say>How can I help?</Say></Gather></Response>"
        );
    }

    #[test]
    fn patient_and_clinic_text_is_escaped_everywhere() {
        let evil = Listening {
            language: "en\"><Hangup/>".into(),
            hints: "a\" action=\"https://evil.example".into(),
        };
        let xml = gather(&["<Dial>+1900</Dial> & 'quotes'".into()], &evil, 1);
        assert!(!xml.contains("<Dial>"), "{xml}");
        assert!(!xml.contains("<Hangup/>"), "{xml}");
        assert!(!xml.contains("action=\"https://evil"), "{xml}");
        assert!(
            xml.contains("&lt;Dial&gt;+1900&lt;/Dial&gt; &amp; &apos;quotes&apos;"),
            "{xml}"
        );
        let d = dial(&["Call 111 now.".into()], "+64 9 555 0100</Dial><Play>x");
        assert!(d.ends_with("<Dial>+64 9 555 0100&lt;/Dial&gt;&lt;Play&gt;x</Dial></Response>"));
    }

    #[test]
    fn a_recorded_call_hears_the_notice_before_the_recording_starts() {
        let xml = gather_recorded(
            "This call is recorded.",
            "https://fd.example/webhooks/twilio/voice/recording?to=%2B6495550100&x=1",
            &["Kia ora.".into()],
            &listening(),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>This call is recorded.</Say>\
             <Start><Recording recordingStatusCallback=\"https://fd.example/webhooks/twilio/voice/recording?to=%2B6495550100&amp;x=1\" \
             recordingStatusCallbackMethod=\"POST\" recordingStatusCallbackEvent=\"completed\" channels=\"mono\" \
             trim=\"do-not-trim\"/></Start><Gather input=\"speech\" action=\"/webhooks/twilio/voice?turn=1&amp;misses=0\" \
             method=\"POST\" speechTimeout=\"auto\" actionOnEmptyResult=\"true\" language=\"en-NZ\" \
             hints=\"Sports massage, Mei Chen\"><Say>Kia ora.</Say></Gather></Response>"
        );
    }

    #[test]
    fn an_emergency_is_said_before_dialling_and_a_goodbye_hangs_up() {
        assert_eq!(
            dial(&["Call 111 now.".into()], "+6495550100"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Call 111 now.</Say>\
             <Dial>+6495550100</Dial></Response>"
        );
        assert_eq!(
            hangup(&["Goodbye.".into(), " ".into()]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Goodbye.</Say><Hangup/></Response>"
        );
    }
}
