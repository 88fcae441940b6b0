//! "The second one", "2", "option 3", "ya pili": the patient picks one of the options offered.

use super::text::Token;

const FILLERS: &[&str] = &[
    "the", "one", "option", "options", "number", "num", "no", "slot", "time", "please", "pls",
    "plz", "i", "ill", "id", "take", "like", "want", "choose", "pick", "go", "with", "for", "that",
    "is", "fine", "ok", "okay", "yes", "yeah", "lets", "do", "sounds", "good", "works", "st", "nd",
    "rd", "th", "thanks", "great", "perfect",
];
const FILLERS_SW: &[&str] = &[
    "ya",
    "la",
    "chaguo",
    "namba",
    "nambari",
    "nataka",
    "nitachukua",
    "tafadhali",
    "hiyo",
    "ile",
    "sawa",
    "ndiyo",
    "ni",
    "nachagua",
];

/// "the second one", "2", "option 3", "#1", "ya pili": the message is only a choice.
pub(super) fn choose_option(tokens: &[Token], swahili: bool) -> Option<(u8, f32)> {
    let mut choice = None;
    let mut explicit = false;
    for t in tokens {
        let w = t.norm.as_str();
        let n = match w {
            "first" => Some(1),
            "second" => Some(2),
            "third" => Some(3),
            "fourth" => Some(4),
            "fifth" => Some(5),
            "kwanza" | "pili" | "tatu" | "nne" | "tano" if swahili => {
                ["kwanza", "pili", "tatu", "nne", "tano"]
                    .iter()
                    .position(|x| *x == w)
                    .and_then(|p| u8::try_from(p + 1).ok())
            }
            _ => t
                .num()
                .filter(|n| (1..=9).contains(n))
                .and_then(|n| u8::try_from(n).ok()),
        };
        if let Some(n) = n {
            if choice.is_some() {
                return None;
            }
            choice = Some(n);
            explicit |= !t.is_num();
        } else if matches!(
            w,
            "option" | "number" | "chaguo" | "namba" | "st" | "nd" | "rd" | "th"
        ) {
            explicit = true;
        } else if !(FILLERS.contains(&w) || (swahili && FILLERS_SW.contains(&w))) {
            return None;
        }
    }
    choice.map(|n| (n, if explicit { 0.9 } else { 0.75 }))
}
