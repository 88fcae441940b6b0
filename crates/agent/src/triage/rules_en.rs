//! English red-flag rules, version `redflags-en-2026.11` (part 1; `rules_en_more` has the rest).
//!
//! Drawn from the signs public ambulance services (NHS 999/111, St John NZ, US 911 guidance)
//! tell people to call for. A rule fires when each of its concepts matches within `window`
//! words; a rule id never changes meaning (a changed rule gets a new id and a new set version).
//! Levels: Emergency for anything that may threaten life or limb; Urgent for "be seen today".
//! Reduced baby movements in pregnancy are Emergency on purpose: the guidance is to be
//! assessed within the hour, which an appointment slot cannot offer.

use super::{Category as C, Concept, RuleDef, RuleSet, TriageLevel};

const E: TriageLevel = TriageLevel::Emergency;
const U: TriageLevel = TriageLevel::Urgent;

const fn r(id: &'static str, c: C, l: TriageLevel, all: &'static [Concept]) -> RuleDef {
    RuleDef::new(id, c, l, all)
}

pub(crate) const CHEST: Concept = "~chest | breastbone | sternum | kifua | kifuani";
pub(crate) const CHEST_FEEL: Concept = "\
    pain | pains | painful | ache* | aching | hurt* | sore | soreness | pressure | tight* | \
    heavy | heaviness | a weight | weight on | crush* | squeez* | burning | discomfort | \
    stabbing | sharp | killing | agony | elephant | vice | clamp* | constrict* | maumivu | \
    kinauma | inauma | kinaniuma | inaniuma | kinabana | kubana";
const CHEST_BENIGN: Concept = "\
    chest physio | physiotherapy | x ray | xray | results | follow up | referral | letter | \
    certificate | invoice | receipt | insurance";
const HEART_EVENT: Concept = "\
    heart attack | heart attak | cardiac arrest | heart stopped | heart has stopped | \
    heart failure attack";
const HEART: Concept = "heart";
pub(crate) const PAIN_WORD: Concept = "pain | pains | hurts | hurting | aching";

const BREATH_SEVERE: Concept = "\
    can not breathe | can not breath | could not breathe | unable to breathe | \
    not able to breathe | struggling to breathe | struggling to breath | struggling for breath | \
    struggling for air | struggling with breathing | struggling breathing | hard to breathe | \
    hard to breath | difficult to breathe | difficulty breathing | difficulties breathing | \
    difficulty in breathing | difficulty with breathing | trouble breathing | \
    trouble with breathing | breathing difficult* | breathing is difficult | breathing is hard | \
    can not catch breath | can not get breath | can not get air | can not get enough air | \
    not getting enough air | gasping | gasp | gasps | gasped | fighting for breath | \
    laboured breathing | labored breathing | not breathing | stopped breathing | no breathing | \
    barely breathing | hardly breathing | stops breathing | breathing stopped | \
    breathing has stopped | asthma attack | inhaler not working | inhaler is not working | \
    inhaler not helping | inhaler is not helping | inhaler does not help | \
    can not speak in full sentences | can not finish sentences | not sure if _ breathing | \
    not know if _ breathing | not tell if _ breathing | throat closing | throat is closing";
const BREATH_NOSE: Concept = "\
    through _ nose | blocked nose | stuffy nose | nose is blocked | nasal | sinus* | snores | \
    sleep apnoea | sleep apnea | apnoea | apnea";
const BREATH_SHORT: Concept = "\
    short of breath | short of breathe | shortness of breath | breathless* | out of breath | \
    breathing problem* | breathing issue* | wheez* | tight chest | air hunger | breathing fast | \
    breathing very fast | rapid breathing | fast breathing";
pub(crate) const EXERTION: Concept = "\
    stairs | climbing | hill | hills | exercise | exercising | running | jogging | gym | \
    workout | walking up | walk up | exertion | sport | sports | football | sometimes | \
    occasionally | on and off | now and then | at times | for months | for years | chronic | \
    asthma review | inhaler prescription | repeat prescription";
const CHOKING: Concept = "\
    choking | =choked | =chocking | =chokes | choke | stuck in _ throat | stuck in _ windpipe | \
    swallowed the wrong way";
pub(crate) const HABITUAL: Concept = "\
    sometimes | occasionally | often | tends to | always | every time";
const BLUE: Concept = "\
    turn* blue | turn* grey | turn* gray | turning purple | gone blue | went blue | going blue | \
    go blue | is blue | looks blue | look blue | blue lips | grey lips | gone grey | went grey | \
    is grey | looks grey";
const LIPS: Concept = "\
    lips | lip | face | skin | fingers | fingertips | tongue | mouth | midomo | uso | ngozi";
const BLUE_WORD: Concept = "blue | bluish | blueish | grey | gray | purple | bluu";
const BLUE_BENIGN: Concept = "\
    inhaler | pump | puffer | bruise | bruised | bruising | tattoo | dye | ink | lipstick | \
    eyes | eye shadow | cold water | veins";

const STROKE: Concept = "=stroke | =strokes | storke | mini stroke | tia | brain attack";
const STROKE_BENIGN: Concept = "\
    rehab* | recover* | survivor* | physio* | therapy | therapist | support group | \
    stroke clinic | risk | back stroke | breast stroke | paddle | golf | tennis | \
    stroke of luck | genius | occupational | follow up | review | stroke unit visit";
const FACE: Concept = "face | mouth | smile | eyelid | side of face | uso | mdomo";
const DROOP: Concept = "\
    droop* | dropping | dropped | fallen | sagging | sag | sags | sagged | lopsided | crooked | \
    twisted | uneven | one sided | one side | numb* | paralys* | paralyz* | frozen | *legea | \
    *pinda | upande mmoja | ganzi | imeshuka | umeshuka | imeenda upande";
const FACE_BENIGN: Concept = "\
    dentist | dental | filling | injection | anaesthetic | anesthetic | botox | tooth | teeth | \
    extraction | numbing";
pub(crate) const LIMB: Concept = "\
    arm | arms | leg | legs | hand | hands | side | body | foot | mkono | mguu | miguu | mwili";
pub(crate) const WEAK: Concept = "\
    weak* | numb* | dead | heavy | paralys* | paralyz* | can not lift | can not move | \
    can not feel | no strength | gave way | gone limp | went limp | floppy | ganzi | \
    hauna nguvu | hana nguvu | haina nguvu | dhaifu | *legea";
pub(crate) const SUDDEN: Concept = "\
    sudden* | all of a sudden | out of nowhere | one side | left side | right side | one sided | \
    half of | upande mmoja | ghafla";
const SLURRED: Concept = "\
    slurr* | garbled | gibberish | speech is strange | lost _ speech | lost speech | \
    suddenly can not speak | suddenly can not talk | can not get words out | \
    can not get _ words out";
const SPEECH: Concept = "\
    speech | speaking | talking | talk | words | speak | *ongea | maneno | *zungumza";
const SPEECH_BAD: Concept = "\
    strange | weird | jumbled | muddled | not making sense | no sense | funny | vibaya | \
    hayaeleweki | hayatoki | kwa shida | kigugumizi";
pub(crate) const CONFUSED: Concept = "\
    confused | confusion | disorient* | delirious | not making sense | not know where he | \
    not know where she | not know who | not recognise me | not recognise us | not recognize me | \
    not recognize us | does not recognise | does not recognize | *changanyikiwa";
const CONFUSED_BENIGN: Concept = "\
    bill | invoice | booking | appointment | website | form | instructions | price | prices | \
    payment | about | directions | app | system | email | password | login | code | card | \
    number | menu | portal | timetable";
const VISION: Concept = "\
    lost _ vision | lost vision | loss of vision | vision loss | lost _ sight | went blind | \
    gone blind | blind in one eye | double vision | curtain over | can not see out of";
pub(crate) const FEVER: Concept = "\
    fever | fevers | feverish | temperature | temp | high temp | burning up | pyrexia | homa | \
    joto | joto kali";
pub(crate) const FEVER_BENIGN: Concept = "\
    hay fever | yellow fever | vaccin* | jab | jabs | travel | chanjo | room temperature | \
    fridge";

pub(crate) const BLEED: Concept = "bleed* | blood | haemorrhag* | hemorrhag* | nosebleed* | damu";
pub(crate) const SEVERE_BLEED: Concept = "\
    heavy | heavily | severe* | a lot | lots | lot of | so much | too much | loads | \
    everywhere | pour* | gush* | spurt* | squirt* | pumping | will not stop | not stop* | \
    can not stop | does not stop | keeps bleeding | soak* | pool of | pools of | massive | \
    uncontrol* | profuse* | deep | through the bandage | through _ towel | cups of | nyingi | \
    haiachi | haikomi | haisimami | haiishi | inamwagika | kwa wingi | kupita kiasi";
pub(crate) const BLEED_BENIGN: Concept = "\
    gum | gums | floss* | brush* | toothbrush | period | periods | menstru* | blood test* | \
    blood work | bloods | blood pressure | blood sugar* | blood donation | donat* | \
    blood results | blood count | blood type | blood group | test results | fizi | hedhi | \
    kipimo | vipimo | kupima | presha | sukari";
const BLEED_MILD: Concept = "piles | haemorrhoids | hemorrhoids";

pub(crate) const PREGNANT: Concept = "\
    pregnant | pregnancy | expecting a baby | weeks pregnant | mjamzito | mimba | ujauzito | \
    gave birth | given birth | giving birth | after birth | postpartum | post partum | \
    just delivered | after delivery | had the baby | miscarriage | miscarrying | *jifungua | \
    bump";
const PREG_BLEED: Concept = "bleed* | blood | clots | damu";
const PREG_BLEED_BENIGN: Concept = "\
    blood test* | blood pressure | blood sugar* | blood group | blood type | bloods | \
    test results | scan | gum | gums | kipimo | vipimo | presha | sukari | kupima";
const LIGHT: Concept = "\
    spotting | light | little | bit of | slight* | small amount | kidogo | brown discharge";
const FETAL: Concept = "\
    reduced movement* | less movement* | fewer movement* | moving less | not moving | \
    stopped moving | not moved | not felt _ move | not felt _ kick | no movement* | \
    not kicking | fewer kicks | less kicks | kicking less | movements _ reduced | \
    movements _ slowed | quieter than usual | not as active | reduced fetal movement* | \
    reduced foetal movement* | hachezi | hajacheza | amepunguza kucheza | hasogei | hajasogea";
const PREG_PAIN: Concept = "\
    severe | excruciating | unbearable | agony | agonising | agonizing | really bad pain | \
    worst pain | makali | shoulder tip pain";
const PREG_VISION: Concept = "\
    blurred vision | blurry vision | flashing lights | seeing spots | spots in _ vision | \
    vision problems | severe headache | terrible headache | worst headache | bad headache";
const PREG_SOON: Concept = "\
    waters broke | waters have broken | water broke | waters broken | water has broken | \
    in labour | in labor | contractions | swollen face | face _ swollen | swollen hands | \
    sudden swelling | headache";

/// The English rule set's version; [`super::rules_en_more`] continues the same set.
pub(crate) const NAME: &str = "redflags-en-2026.11";

/// Cardiac, breathing, stroke, bleeding and pregnancy rules.
pub(crate) const RULES: RuleSet = RuleSet {
    name: NAME,
    rules: &[
        r("en.chest.pain", C::ChestPain, E, &[CHEST, CHEST_FEEL])
            .window(7)
            .unless(CHEST_BENIGN),
        r("en.chest.heart_attack", C::ChestPain, E, &[HEART_EVENT]),
        r("en.chest.heart_pain", C::ChestPain, E, &[HEART, PAIN_WORD]).window(4),
        r("en.breathing.severe", C::Breathing, E, &[BREATH_SEVERE]).unless(BREATH_NOSE),
        r("en.breathing.short", C::Breathing, E, &[BREATH_SHORT]).milder(EXERTION),
        r("en.breathing.choking", C::Breathing, E, &[CHOKING]).milder(HABITUAL),
        r("en.breathing.blue", C::Breathing, E, &[BLUE]).unless(BLUE_BENIGN),
        r(
            "en.breathing.blue_lips",
            C::Breathing,
            E,
            &[LIPS, BLUE_WORD],
        )
        .window(4)
        .unless(BLUE_BENIGN),
        r("en.stroke.named", C::Stroke, E, &[STROKE]).unless(STROKE_BENIGN),
        r("en.stroke.face", C::Stroke, E, &[FACE, DROOP])
            .window(6)
            .unless(FACE_BENIGN),
        r("en.stroke.limb", C::Stroke, E, &[LIMB, WEAK, SUDDEN]).window(10),
        r("en.stroke.speech", C::Stroke, E, &[SLURRED]),
        r("en.stroke.speech_bad", C::Stroke, E, &[SPEECH, SPEECH_BAD]).window(5),
        r("en.stroke.confusion", C::Stroke, E, &[CONFUSED, SUDDEN]).window(8),
        r("en.stroke.vision", C::Eye, E, &[VISION, SUDDEN]).window(8),
        r(
            "en.sepsis.fever_confusion",
            C::Infection,
            E,
            &[FEVER, CONFUSED],
        )
        .window(12)
        .unless(CONFUSED_BENIGN),
        r("en.bleeding.severe", C::Bleeding, E, &[BLEED, SEVERE_BLEED])
            .window(8)
            .unless(BLEED_BENIGN)
            .milder(BLEED_MILD),
        r(
            "en.pregnancy.bleeding",
            C::Pregnancy,
            E,
            &[PREGNANT, PREG_BLEED],
        )
        .window(12)
        .unless(PREG_BLEED_BENIGN)
        .milder(LIGHT),
        r(
            "en.pregnancy.movements",
            C::Pregnancy,
            E,
            &[PREGNANT, FETAL],
        )
        .window(14),
        r("en.pregnancy.pain", C::Pregnancy, E, &[PREGNANT, PREG_PAIN]).window(12),
        r(
            "en.pregnancy.preeclampsia",
            C::Pregnancy,
            E,
            &[PREGNANT, PREG_VISION],
        )
        .window(12),
        r("en.pregnancy.soon", C::Pregnancy, U, &[PREGNANT, PREG_SOON]).window(12),
        r("en.stroke.confusion_new", C::Stroke, U, &[CONFUSED]).unless(CONFUSED_BENIGN),
        r("en.stroke.vision_loss", C::Eye, U, &[VISION]),
    ],
};
