//! Word lists shared by every rule set: negation cues and their scope, words a phrase may skip,
//! the markers of past, present and "information only" mentions, and real words that must
//! never be read as a typo of a rule word.
//!
//! Phrase syntax (also used by the rule sets): words separated by spaces; `word*` matches any
//! word starting with `word`, `*word` any word ending with it; `#` is a number of 2 or more
//! (digits or a word: "five", "tano"), `#y` a year (1900–2099), `#t` a fever temperature
//! (39–43 °C or 102–108 °F); `_` lets up to three arbitrary words stand between its neighbours.
//! Plain words of 6+ letters also match a typo (edit distance 1, or 2 from 9 letters, same first
//! letter); `~word` opts a 5-letter word in, `=word` opts any word out.

use super::Concept;

/// Words that negate what follows them in the same clause ("no chest pain", "sina homa").
/// Swahili negative verbs ("hapumui", "haamki") are not cues: they are the red flag itself and
/// appear inside rule phrases.
pub(crate) const NEGATION_CUES: &str = "\
    no not never without denies nor neither none sina huna hana hatuna hamna hawana hakuna bila \
    si sio siyo hapana haina sijapata hajapata sijawahi hajawahi sijaona hajaona";

/// A cue followed by one of these is not a negation: "not sure", "no longer", "don't know",
/// "don't think he's breathing", "no one".
pub(crate) const PSEUDO_NEGATION_NEXT: &str = "\
    sure know idea certain longer only just matter think one doubt tell understand clue kidding \
    joke joking wonder";

/// Words that may stand between a negation cue and what it negates: "no signs of any chest
/// pain", "does not have a fever", "sina dalili zozote za homa".
pub(crate) const NEGATION_FILLERS: &str = "\
    have has had having any a an the real really much significant signs sign of symptom symptoms \
    experiencing experienced feel feeling felt got get getting been is are was were am be \
    currently with other obvious more further new or nor from suffering complaining showing ya \
    za wa la cha yoyote zozote wowote dalili tena kabisa au wala ana nina kupata kuwa kuhisi \
    kuona";

/// Symptom nouns that may stand in a negated list: "no fever or chest pain" negates both,
/// while "no fever but chest pain" and "no fever and chest pain" do not reach the chest pain
/// (a miss is worse than a false alarm, so "and" ends the scope).
pub(crate) const LIST_SYMPTOMS: &str = "\
    fever temperature cough rash vomiting diarrhoea diarrhea headache nausea dizziness sweating \
    homa kikohozi kuhara kutapika upele joto mafua";

/// Words a multi-word phrase may skip (at most two in a row): "can't catch my breath",
/// "not really breathing", "hawezi kupumua vizuri".
pub(crate) const SKIP_WORDS: &str = "\
    really very so too properly just even my his her their our your the a an at all quite much \
    that this it is are was be been anymore completely totally suddenly sana kabisa vizuri tena \
    ghafla wangu wake yangu yake kwa";

/// Real words one edit away from a rule word: never read as a typo of it.
pub(crate) const PROTECTED_WORDS: &str = "\
    walking grasping smelling selling spelling swearing beach bleak threat threats prison \
    cooking strike strode stoke breast breasts breadth sizing sporting spitting camping crashing \
    brushing scolded injected infested stabled bitter burying failing chose chess crest cheat \
    shots slots heard would fewer staff stuff piles drawn aware mowing burst burps leaning \
    breeding bleeping hearty blending pasting hinting sleeping sweeping peeling wheeling \
    checking cooked cocking clocking chucking chores coking acting certain tests tested tastes \
    strikes stroked strobe strove stokes delicious bother though taking waiting wasting waving \
    voice insured meditation mediation tables rental recital";

/// A mention is in the distant past: "last year", "3 years ago", "as a child", "in 2019".
pub(crate) const PAST: Concept = "\
    last year | last month | # years ago | # months ago | years ago | months ago | \
    miaka _ iliyopita | miezi _ iliyopita | a year ago | a month ago | year ago | years back | \
    long time ago | long ago | in the past | history of | used to | as a child | as a kid | \
    when i was | in #y | back in #y | previous* | when he was little | when she was little | \
    when i was little | as a baby | in january | in february | in march | in april | in june | \
    in july | in august | in september | in october | in november | in december | \
    alipokuwa mdogo | nilipokuwa mdogo | mwaka jana | miaka # iliyopita | miaka iliyopita | \
    miezi # iliyopita | miezi iliyopita | mwaka uliopita | zamani | nilipokuwa mtoto | \
    alipokuwa mtoto | mwaka #y | historia ya | awali";

/// The mention is happening now. It outweighs a past or informational marker when it stands
/// nearer to the sign ("had a stroke years ago and now her face is drooping"), not when it
/// belongs to something else ("baba alipata kiharusi zamani, sasa anatembea vizuri").
pub(crate) const PRESENT: Concept = "\
    now | right now | still | today | tonight | currently | at the moment | this morning | \
    this afternoon | this evening | happening | keeps | urgent | emergency | sasa | sasa hivi | \
    hivi sasa | bado | leo | usiku huu | asubuhi hii | haraka | dharura";

/// The sign has come back: always outweighs a past marker in the same sentence ("chest pain
/// last year and it's back again").
pub(crate) const RECURRENCE: Concept = "\
    again | another | back again | came back | come back | coming back | is back | returned | \
    returning | once more | tena | mwingine | imerudi | kimerudi | inarudi | amerudia";

/// Information, teaching or prevention, not an event: "what are the signs of a stroke",
/// "first aid course on choking", "dalili za kiharusi ni zipi".
pub(crate) const HYPOTHETICAL: Concept = "\
    what are the signs | what are the symptoms | how to recognise | how to recognize | \
    how do you recognise | how do you recognize | first aid | cpr | course on | course about | \
    class on | classes on | training | workshop | seminar | webinar | talk on | leaflet | \
    leaflets | brochure | article | information about | information on | info about | info on | \
    risk of | prevention | prevent | awareness | ni zipi | ni gani | mafunzo | semina | kuzuia | \
    elimu ya | kipeperushi | taarifa kuhusu";

/// People a patient writes about. Used where a sign needs a subject ("she's not moving").
pub(crate) const PERSON: Concept = "\
    he | she | him | her | dad | mum | mom | mother | father | husband | wife | son | daughter | \
    grandma | grandpa | granny | grandmother | grandfather | friend | brother | sister | \
    partner | boy | girl | man | woman | someone | patient | uncle | aunt | aunty | auntie | \
    nephew | niece | neighbour | neighbor | colleague | baby | child | kid | toddler | i | \
    papa | mama | baba | bibi | babu | kaka | dada | mume | mke | mtoto | mgonjwa | rafiki | \
    jirani | yeye | mzee";

/// A child or baby, in English or Swahili ("mtoto wangu is floppy" must still match).
pub(crate) const CHILD: Concept = "\
    baby | babies | babys | child | children | kid | kids | toddler | infant | newborn | \
    new born | son | daughter | boy | girl | little one | # month old | # months old | \
    # week old | # weeks old | # day old | # days old | # year old | # years old | mtoto | \
    watoto | mwanangu | kichanga | mtoto mchanga | binti | mvulana | msichana | mwana | \
    wanangu";
