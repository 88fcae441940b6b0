//! English red-flag rules, version `redflags-en-2026.11` (part 3): the Urgent-only rules —
//! not an ambulance case, but staff should see the patient today (fever that lasts, worse
//! after surgery, an infected wound, a possible fracture, …). The earliest slot is offered.

use super::lexicon::CHILD;
use super::rules_en::{FEVER, FEVER_BENIGN, NAME};
use super::rules_en_more::{
    BLOOD_WORD, BURN, BURN_BENIGN, CHILD_INGESTED, HEAD_HIT, HEADACHE, HEAT_RASH, PALPITATIONS,
    RASH,
};
use super::{Category as C, Concept, RuleDef, RuleSet, TriageLevel};

const U: TriageLevel = TriageLevel::Urgent;

const fn r(id: &'static str, c: C, all: &'static [Concept]) -> RuleDef {
    RuleDef::new(id, c, U, all)
}

const FAINT: Concept = "\
    faint | fainted | fainting | faints | feel faint | passed out | passing out | pass out | \
    passes out | blacked out | blackout* | black out | past out | *lizimia";
const FAINT_BENIGN: Concept = "faint line | test | hunger | hungry";
const ALLERGIC: Concept = "allergic reaction | reaction to | hives | allergy attack";
const HOUSEHOLD: Concept = "\
    washing up liquid | soap | shampoo | toothpaste | cream | perfume | hand sanitiser | \
    hand sanitizer | hand gel | alcohol | mouthwash | cigarette* | plant | berries | mushroom* | \
    coin | coins | sabuni";
const DOUBLE_DOSE: Concept = "\
    double dose | doubled _ dose | took _ twice | extra dose | wrong medication | \
    wrong medicine | wrong pills";
const HEAD_SEVERE: Concept = "\
    severe | really bad | terrible | excruciating | unbearable | agonising | agonizing | awful | \
    intense | kali sana | makali";
const HEAD_USUAL: Concept = "\
    usual | usually | chronic | always | regular* | referral | prescription | medication | \
    tablets | neurolog* | every month | monthly | history";
const CHILD_UNWELL: Concept = "\
    lethargic | listless | very tired | not feeding | not eating or drinking | not drinking | \
    refusing feeds | refusing fluids | no wet nappies | no wet diapers | dry nappies | \
    not had a wet | not peed | not weed | sunken | *nyongonyea | hanyonyi | hanywi | hajakojoa | \
    hali wala hanywi";
const INFANT: Concept = "\
    newborn | new born | infant | # week old | # weeks old | # day old | # days old | \
    # month old | # months old | mtoto mchanga | kichanga";
const HIGH_FEVER: Concept = "\
    high fever | very high fever | very high temperature | high temperature | fever of #t | \
    temperature of #t | temp of #t | #t degrees | fever #t | temperature #t | temp #t | \
    homa kali | joto kali";
pub(crate) const DURATION: Concept = "\
    # days | several days | few days | couple of days | for days | a week | over a week | \
    all week | # weeks | a fortnight | since monday | since tuesday | since wednesday | \
    since thursday | since friday | since saturday | since sunday | since last week | \
    since the weekend | siku # | siku kadhaa | wiki nzima | wiki moja | wiki # | \
    tangu jumatatu | tangu jumanne | tangu jumatano | tangu alhamisi | tangu ijumaa | \
    tangu jumamosi | tangu jumapili | tangu juzi | tangu wiki iliyopita";
const COUGH: Concept = "cough* | *kohoa";
const STOOL_BLOOD: Concept = "\
    black _ stool* | black poo | tarry | passing blood | blood when _ toilet | \
    blood in _ toilet | blood in _ stool* | blood in _ poo | bloody stool* | bloody poo | \
    rectal bleeding | bleeding from _ bottom | kinyesi cheusi | damu kwenye kinyesi | \
    damu katika kinyesi";
const TUMMY: Concept = "stomach | tummy | abdomen | abdominal | belly | tumbo";
const TUMMY_SEVERE: Concept = "\
    severe | excruciating | unbearable | agony | agonising | agonizing | worst | really bad | \
    terrible | doubled over | can not stand | rigid | makali | kali sana";
const GUT_BUG: Concept = "\
    vomit* | throwing up | being sick | diarrh* | the runs | *tapika | *hara | *harisha";
const CANT_KEEP_DOWN: Concept = "\
    can not keep _ down | can not keep anything down | can not keep fluids down";
const HEAD_OK: Concept = "fine now | totally fine | completely fine | all fine now | all good now";
const SURGERY: Concept = "\
    surgery | operation | op | procedure | replacement | c section | caesarean | cesarean | \
    keyhole | arthroscopy | upasuaji | oparesheni | operesheni";
const POSTOP_BAD: Concept = "\
    worse | worsening | getting worse | more pain | more painful | increasing | severe pain | \
    unbearable | excruciating | red | redness | swollen | swelling | pus | discharge | oozing | \
    smell* | smelly | hot | fever | temperature | opened | opening up | came apart | \
    coming apart | come apart | split | gaping | calf | *ongezeka | zaidi | *vimba | usaha | \
    homa | wekundu | nyekundu | *nuka | harufu | kinatoa";
const WOUND: Concept = "\
    wound | cut | incision | stitches | sutures | staples | scar | graze | bite | kidonda | \
    jeraha | mshono";
const INFECTED: Concept = "\
    infect* | pus | oozing | ooze | opened | opened up | split open | gaping | come apart | \
    came apart | coming apart | smells | smelly | red and hot | hot to _ touch | hot and red | \
    red streak* | red line* | spreading | redness | swollen | weeping | green | usaha | *oza | \
    *nuka | harufu | *vimba | chekundu | wekundu | maambukizi | *ambukizwa";
const CALF: Concept = "calf | calves";
const CALF_BAD: Concept = "swollen | swelling | hot | red | tender | painful";
const BROKEN: Concept = "broken | broke | fractur* | snapped | dislocat* | *vunjika";
const BONE: Concept = "\
    bone | arm | leg | wrist | ankle | hip | collarbone | finger | toe | elbow | shoulder | \
    knee | foot | hand | rib* | nose | mfupa | mkono | mguu";
const BROKEN_BENIGN: Concept = "\
    glasses | phone | screen | crutches | tooth | teeth | heart | cast is off | cast off | \
    out of _ cast | cast came off | cast removed | healed";
const NO_WEIGHT: Concept = "\
    can not put weight on | can not bear weight | can not weight bear | can not walk on";
const BITE: Concept = "\
    dog bite | bitten by | cat bite | animal bite | bit by | bit me | dog bit | cat bit | \
    *umwa na mbwa";
const URINE: Concept = "\
    blood in _ urine | blood in _ pee | blood in _ wee | bloody urine | peeing blood | \
    can not pee | can not pass urine | not passed urine | damu kwenye mkojo";
const EYE_INJURY: Concept = "\
    eye injury | injured _ eye | something in _ eye | hit in _ eye | poked in _ eye | \
    scratched _ eye";
const SUGAR: Concept = "blood sugar | sugar | sugars | glucose | ketones | sukari";
const SUGAR_BAD: Concept = "\
    very low | very high | too low | too high | not coming up | will not come up | dangerously | \
    chini sana | juu sana";
const SEVERE_PAIN: Concept = "\
    excruciating | unbearable pain | agony | agonising | agonizing | worst pain | \
    screaming in pain | crying in pain | pain is unbearable | maumivu makali sana | \
    maumivu yasiyovumilika";
const PAIN_CHRONIC: Concept = "usual | chronic | for years | for months | arthritis";
const MENTAL: Concept = "hearing voices | psychosis | psychotic | manic";

/// The Urgent-only English rules.
pub(crate) const RULES: RuleSet = RuleSet {
    name: NAME,
    rules: &[
        r("en.fainted", C::Unconscious, &[FAINT]).unless(FAINT_BENIGN),
        r("en.allergy.reaction", C::Allergy, &[ALLERGIC]),
        r("en.poisoning.double_dose", C::Poisoning, &[DOUBLE_DOSE]),
        r(
            "en.poisoning.household",
            C::Poisoning,
            &[CHILD, CHILD_INGESTED, HOUSEHOLD],
        )
        .window(10),
        r("en.burns.child", C::Burns, &[CHILD, BURN])
            .window(10)
            .unless(BURN_BENIGN),
        r("en.headache.severe", C::Headache, &[HEADACHE, HEAD_SEVERE])
            .window(6)
            .unless(HEAD_USUAL),
        r("en.child.unwell", C::ChildUnwell, &[CHILD, CHILD_UNWELL]).window(12),
        r("en.fever.infant", C::Fever, &[INFANT, FEVER])
            .window(12)
            .unless(FEVER_BENIGN),
        r("en.fever.high", C::Fever, &[HIGH_FEVER]).unless(FEVER_BENIGN),
        r("en.fever.lasting", C::Fever, &[FEVER, DURATION])
            .window(10)
            .unless(FEVER_BENIGN),
        r("en.meningitis.rash_fever", C::Meningitis, &[RASH, FEVER])
            .window(10)
            .unless(HEAT_RASH),
        r(
            "en.abdomen.coughing_blood",
            C::Breathing,
            &[COUGH, BLOOD_WORD],
        )
        .window(5),
        r("en.abdomen.stool_blood", C::Abdominal, &[STOOL_BLOOD]),
        r(
            "en.abdomen.severe_pain",
            C::Abdominal,
            &[TUMMY, TUMMY_SEVERE],
        )
        .window(6),
        r("en.abdomen.lasting", C::Abdominal, &[GUT_BUG, DURATION]).window(10),
        r(
            "en.abdomen.cant_keep_down",
            C::Dehydration,
            &[CANT_KEEP_DOWN],
        ),
        r("en.head_injury", C::HeadInjury, &[HEAD_HIT]).unless(HEAD_OK),
        r("en.post_op.worse", C::PostOperative, &[SURGERY, POSTOP_BAD]).window(12),
        r("en.wound.infected", C::Wound, &[WOUND, INFECTED]).window(10),
        r("en.dvt.calf", C::Other, &[CALF, CALF_BAD]).window(6),
        r("en.injury.fracture", C::Injury, &[BROKEN, BONE])
            .window(5)
            .unless(BROKEN_BENIGN),
        r("en.injury.no_weight", C::Injury, &[NO_WEIGHT]),
        r("en.injury.bite", C::Injury, &[BITE]),
        r("en.urine", C::Other, &[URINE]),
        r("en.eye.injury", C::Eye, &[EYE_INJURY]),
        r("en.diabetes.sugar", C::Other, &[SUGAR, SUGAR_BAD]).window(6),
        r("en.pain.severe", C::Other, &[SEVERE_PAIN]).unless(PAIN_CHRONIC),
        r("en.palpitations", C::ChestPain, &[PALPITATIONS]),
        r("en.mental.crisis", C::SelfHarm, &[MENTAL]),
    ],
};
