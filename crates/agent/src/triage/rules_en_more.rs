//! English red-flag rules, version `redflags-en-2026.11` (part 2): consciousness, seizures,
//! allergy, self-harm, poisoning, burns, headache, children, meningitis, abdomen, injuries.

use super::lexicon::{CHILD, PERSON};
use super::rules_en::{FEVER, NAME};
use super::{Category as C, Concept, RuleDef, RuleSet, TriageLevel};

const E: TriageLevel = TriageLevel::Emergency;

const fn r(id: &'static str, c: C, l: TriageLevel, all: &'static [Concept]) -> RuleDef {
    RuleDef::new(id, c, l, all)
}

const UNCONSCIOUS: Concept = "\
    unconscious | unresponsive | not waking | will not wake | can not wake | can not be woken | \
    can not get _ to wake | not wake up | does not wake | not come round | not coming round | \
    not come to | lost consciousness | loss of consciousness | knocked out | \
    knocked unconscious | collapsed | collapse | collapsing | keeled over | no pulse | \
    lifeless | keeps passing out | keeps fainting | keeps collapsing | will not respond | \
    does not respond | not respond to | hajitambui | hana fahamu | *poteza fahamu | hazinduki | \
    haamki | hajaamka | hawezi kuamka | haitikii | amezimia | anazimia | *mezimia";
const NOT_RESPONDING: Concept = "\
    not responding | not responsive | no response | not moving | not reacting | no reaction | \
    not respond | floppy | gone limp | went limp | is limp";
const NOT_RESPONDING_BENIGN: Concept = "\
    antibiotics | treatment | medication | medicine | tablets | physio | therapy | messages | \
    texts | calls | emails | email | my arm | my leg | my shoulder | my knee | bowels";
const FELL: Concept = "fell | fallen | fall | had a fall | *anguka";
const CANT_GET_UP: Concept = "\
    can not get up | can not stand | unable to get up | on the floor | hawezi kuinuka | \
    hawezi kusimama";
const SEIZURE: Concept = "\
    seizure | seizures | seizing | fitting | a fit | having fits | fitting | convuls* | \
    jerking | shaking uncontrollably | eyes rolled | eyes rolling | convulsion*";
const SEIZURE_BENIGN: Concept = "\
    fit note | sick note | seizure free | seizure medication | seizure meds | \
    epilepsy medication | epilepsy meds | epilepsy review | refill | repeat prescription | \
    prescription | driving licence | driving license | orthotic* | insole* | brace | splint | \
    hearing aid | dawa za kifafa | vidonge vya kifafa";

const ANAPHYLAXIS: Concept = "\
    anaphyla* | anaphylactic shock | severe allergic reaction | bad allergic reaction | \
    serious allergic reaction | allergic shock | epipen | epi pen | adrenaline pen | \
    mzio mkali";
const ANAPHYLAXIS_BENIGN: Concept = "\
    prescription | refill | repeat | expired | expiry | replace* | spare | action plan | \
    allergy plan | stock | buy | order | supply";
const SWELL_PART: Concept = "\
    throat | tongue | lips | lip | face | mouth | koo | ulimi | midomo | uso";
const SWELL: Concept = "swell* | swollen | *vimba | uvimbe";
const THROAT: Concept = "throat | koo";
const THROAT_CLOSING: Concept = "\
    closing | closing up | =closes | tightening | tight | *fungika | *bana";
const SWELL_MILD: Concept = "\
    tooth | teeth | toothache | dental | dentist | wisdom | abscess | extraction | gum | gums | \
    tonsil* | glands | gland | sore throat | cold | flu | sinus* | jino | meno | fizi | mafua";

const SELF_HARM: Concept = "\
    suicid* | kill myself | killing myself | kill himself | kill herself | end my life | \
    ending my life | end it all | take my own life | take my life | end his life | \
    end her life | want to die | wanna die | wish i was dead | wish i were dead | \
    better off dead | better off without me | no reason to live | not want to live | \
    not want to be alive | not want to be here anymore | harm myself | harm himself | \
    harm herself | self harm* | self injur* | to hurt myself | hang myself | wants to die | \
    wanted to die | wanting to die | kill themselves | cut _ wrists | slit _ wrist* | \
    cutting _ wrists | overdose on purpose | tried to kill | take all my pills | \
    taking all my pills | take all my tablets | taking all my tablets | take all my meds | \
    taking all my meds | all my tablets at once | all my pills at once";
const CUT_MYSELF: Concept = "\
    cut myself | cutting myself | cutting again | hurting myself | burning myself | \
    cutting herself | cutting himself | cut herself | cut himself | cut _ wrist";
const ACCIDENT: Concept = "\
    cooking | kitchen | shaving | accident* | gardening | gym | sport | football | training | \
    lifting | glass broke | knife slipped";

const OVERDOSE: Concept = "\
    overdose* | overdosing | too many pills | too many tablets | too many painkillers | \
    too many sleeping pills | too much medication | too much medicine | too much insulin | \
    too much paracetamol | poison* | rat poison | sumu";
const POISON_BENIGN: Concept = "food | chakula | poison ivy | poison oak | is _ poisonous";
const INGESTED: Concept = "\
    took | taken | swallowed | swallow | ate | eaten | drank | drunk | ingested | consumed | \
    got into | chewed | *meza | *nywa | amekula | alikula";
const QUANTITY: Concept = "\
    too many | too much | all | whole | entire | handful | bunch of | a bottle of | bottle of | \
    packet of | box of | strip of | loads of | dozen* | vingi | nyingi | vyote | zote | \
    kupita kiasi | chupa nzima | paketi nzima";
const MEDS: Concept = "\
    pills | pill | tablets | tablet | medication* | medicine* | meds | paracetamol | panadol | \
    ibuprofen | painkillers | sleeping pills | insulin | antidepressant* | vidonge | dawa";
pub(crate) const CHILD_INGESTED: Concept = "\
    swallowed | swallow | ate | eaten | got into | chewed | drank | drunk | drinking | licked | \
    *meza | amekula";
const POISONS: Concept = "\
    bleach | poison | kerosene | paraffin | petrol | gasoline | diesel | antifreeze | \
    detergent | dishwasher tablet* | dishwasher pod* | washing powder | laundry pod* | \
    laundry capsule* | liquitab* | button battery | battery | batteries | magnet* | chemical* | \
    pesticide* | weedkiller | weed killer | insecticide | cleaning product* | drain cleaner | \
    oven cleaner | acid | caustic | methanol | jiki | sumu | mafuta ya taa | dawa ya panya | \
    dawa ya mbu | dawa ya kuua wadudu | petroli | e liquid | vape liquid | nicotine";
const CHEMICAL: Concept = "\
    bleach | chemical* | acid | alkali | oven cleaner | cement | cleaning product* | jiki";
const IN_EYE: Concept = "in _ eye | in _ eyes | eye | eyes | jichoni | machoni | macho";

pub(crate) const BURN: Concept =
    "burn | burns | burnt | burned | scald* | *ungua | *unguzwa | chomwa na moto";
const BURN_SEVERE: Concept = "\
    severe* | bad | badly | large | big | huge | deep | face | chest | third degree | \
    3rd degree | second degree | 2nd degree | full thickness | boiling | hot oil | fire | \
    flames | chemical* | acid | electric* | peeling | charred | all over | skin coming off | \
    skin came off | vibaya | maji ya moto | mafuta ya moto | moto | mwili mzima | kubwa | \
    malengelenge | umeme | asidi";
const HOT_LIQUID: Concept = "\
    boiling water | boiling | hot water | hot oil | hot tea | hot coffee | kettle | hot pan | \
    chip pan";
const SCALD_EVENT: Concept = "\
    over herself | over himself | over him | over her | over myself | spilled | spilt | pulled | \
    poured | splashed | knocked | fell in | fell into | skin | peeling | blister*";
pub(crate) const BURN_BENIGN: Concept = "\
    sunburn | heartburn | pee* | urinat* | wee | weeing | urine | pass water | indigestion | \
    reflux | sensation | feeling | feels | feet | eyes | stomach | tongue | calories | fat | \
    kukojoa | mkojo";
const BURN_MILD: Concept = "small | little | tiny | minor | finger | fingertip | kidogo | kidole";

pub(crate) const HEADACHE: Concept = "\
    headache* | head ache | head pain | pain in _ head | head hurts | head is pounding | \
    head pounding | migraine* | maumivu ya kichwa | kichwa kinauma | kichwa kinaniuma";
const THUNDERCLAP: Concept = "\
    worst | thunderclap | sudden* | out of nowhere | explod* | like being hit | hit with | \
    like a bat | like a hammer | 10 out of 10 | ten out of ten | never had one like | \
    never _ like this | never _ this bad | blinding | ghafla | sijawahi | kama radi";
pub(crate) const RASH: Concept =
    "rash* | spots | blotches | blotchy | pinprick* | upele | vipele | madoa";
pub(crate) const HEAT_RASH: Concept =
    "upele _ joto | vipele _ joto | heat rash | sweat rash | prickly heat";
const NON_BLANCHING: Concept = "\
    not fade | does not fade | not go away when _ press* | glass test | glass | non blanching | \
    not blanch* | purple | bruise like | like bruises | haupotei | haufifii";
const STIFF_NECK: Concept = "\
    stiff neck | neck _ stiff | neck stiffness | can not bend _ neck | \
    can not touch _ chin to _ chest | shingo ngumu | shingo _ *kaza | shingo imekakamaa";
const MENINGITIS: Concept = "\
    meningitis | meningococcal | sepsis | septic | blood poisoning | homa ya uti wa mgongo";
const MENINGITIS_BENIGN: Concept = "\
    vaccin* | jab | jabs | immunis* | immuniz* | booster | septic tank | chanjo";

const CHILD_CRITICAL: Concept = "\
    floppy | gone limp | went limp | is limp | not responding | unresponsive | will not wake | \
    can not wake | not waking | hard to wake | difficult to wake | very drowsy | very sleepy | \
    high pitched cry | weak cry | not breathing | stopped breathing | pauses in _ breathing | \
    grunting | sucking in under _ ribs | ribs sucking in | bulging fontanelle | \
    soft spot _ bulging | turn* blue | is blue | looks blue | gone blue | went blue | \
    turn* grey | is grey | looks grey | mottled | pale and cold | very pale | not moving | \
    *legea | mlegevu | hapumui | haamki | hajitambui | haitikii | bluu";

const VOMIT: Concept = "vomit* | throw* up | threw up | being sick | puking | puke* | *tapika";
pub(crate) const BLOOD_WORD: Concept = "blood | bloody | coffee grounds | damu";

const SHOCK_LOOK: Concept = "grey | gray | pale | ashen | white as a sheet";
const SHOCK_SWEAT: Concept = "sweat* | clammy";
const FELL_ASLEEP: Concept = "fell asleep | fall asleep | falling asleep";
pub(crate) const HEAD_HIT: Concept = "\
    hit head | bumped head | banged head | bang* head | knock* head | fell on head | \
    head injury | head injur* | head knock | hit to head | blow to head | concussion | \
    concussed | *gonga kichwa | *umia kichwa | jeraha la kichwa";
const HEAD_RED: Concept = "\
    vomit* | being sick | been sick | was sick | is sick | throwing up | drows* | sleepy | \
    falling asleep | confus* | unconscious | knocked out | passed out | blacked out | seizure | \
    fit | fitting | blood from _ ear | fluid from _ nose | fluid from _ ear | slurr* | \
    can not remember | memory loss | not making sense | *tapika | usingizi | *sinzia | *zimia | \
    *changanyikiwa | hajitambui | degedege";
const TRAUMA: Concept = "\
    electrocut* | electric shock | drown* | near drowning | hit by a car | hit by car | \
    run over | knocked down by | car crash | stabbed | stab wound | been shot | gunshot | \
    fell from _ height | fell off _ roof | fell off _ ladder | found hanging | \
    bone sticking out | bone through _ skin | open fracture | severed | amputat* | snake bite | \
    snakebite | bitten by _ snake | heatstroke | heat stroke | sunstroke";
const DOOM: Concept = "\
    feel like _ going to die | think _ am dying | think _ is dying | i am dying | he is dying | \
    she is dying | going to die";
const DOOM_BENIGN: Concept = "\
    dying to | dying for | dying of | die of embarrassment | die laughing | lol | haha";
const AMBULANCE: Concept = "\
    call an ambulance | call ambulance | need an ambulance | need ambulance | \
    send an ambulance | send ambulance | this is an emergency | it is an emergency | \
    medical emergency | call 911 | call 999 | call 111 | call 112 | gari la wagonjwa | \
    ambulensi";
const TESTICLE: Concept = "testicle* | testicular | =testes | scrotum | balls | korodani | pumbu";
const TESTICLE_BAD: Concept = "\
    sudden* | severe* | very painful | swollen | agony | ghafla | makali";
const BACK: Concept = "back | spine | sciatica | mgongo";
const CAUDA: Concept = "\
    numb _ bottom | numbness _ bottom | numb between _ legs | numb around _ genitals | saddle | \
    can not pee | can not urinate | can not control _ bladder | lost control of _ bladder | \
    loss of bladder control | bladder control | bowel control | wet myself | wetting myself | \
    can not feel _ bottom | incontinen* | pee myself";

pub(crate) const PALPITATIONS: Concept = "\
    palpitation* | heart racing | heart is racing | racing heart | heart pounding | \
    heart beating fast | irregular heartbeat | heart fluttering";
const PALP_BAD: Concept = "faint | fainted | passed out | blacked out | chest";

/// Consciousness, seizures, allergy, self-harm, poisoning, burns, headache, children,
/// meningitis, abdomen and injuries.
pub(crate) const RULES: RuleSet = RuleSet {
    name: NAME,
    rules: &[
        r("en.unconscious", C::Unconscious, E, &[UNCONSCIOUS]),
        r(
            "en.unconscious.subject",
            C::Unconscious,
            E,
            &[PERSON, NOT_RESPONDING],
        )
        .window(4)
        .unless(NOT_RESPONDING_BENIGN),
        r("en.fall.cant_get_up", C::Injury, E, &[FELL, CANT_GET_UP]).window(8),
        r("en.seizure", C::Seizure, E, &[SEIZURE]).unless(SEIZURE_BENIGN),
        r("en.allergy.anaphylaxis", C::Allergy, E, &[ANAPHYLAXIS]).unless(ANAPHYLAXIS_BENIGN),
        r("en.allergy.swelling", C::Allergy, E, &[SWELL_PART, SWELL])
            .window(5)
            .milder(SWELL_MILD),
        r(
            "en.allergy.throat",
            C::Allergy,
            E,
            &[THROAT, THROAT_CLOSING],
        )
        .window(6)
        .milder(SWELL_MILD),
        r("en.self_harm", C::SelfHarm, E, &[SELF_HARM]).sticky(),
        r("en.self_harm.cutting", C::SelfHarm, E, &[CUT_MYSELF]).unless(ACCIDENT),
        r("en.poisoning.overdose", C::Poisoning, E, &[OVERDOSE]).unless(POISON_BENIGN),
        r(
            "en.poisoning.quantity",
            C::Poisoning,
            E,
            &[INGESTED, QUANTITY, MEDS],
        )
        .window(8),
        r(
            "en.poisoning.child",
            C::Poisoning,
            E,
            &[CHILD, CHILD_INGESTED, MEDS],
        )
        .window(12),
        r(
            "en.poisoning.chemical",
            C::Poisoning,
            E,
            &[INGESTED, POISONS],
        )
        .window(8),
        r("en.eye.chemical", C::Eye, E, &[CHEMICAL, IN_EYE]).window(5),
        r("en.burns.severe", C::Burns, E, &[BURN, BURN_SEVERE])
            .window(8)
            .unless(BURN_BENIGN)
            .milder(BURN_MILD),
        r("en.burns.scald", C::Burns, E, &[HOT_LIQUID, SCALD_EVENT])
            .window(8)
            .milder(BURN_MILD),
        r(
            "en.headache.sudden",
            C::Headache,
            E,
            &[HEADACHE, THUNDERCLAP],
        )
        .window(8),
        r(
            "en.headache.thunderclap",
            C::Headache,
            E,
            &[THUNDERCLAP_ONLY],
        ),
        r(
            "en.meningitis.rash",
            C::Meningitis,
            E,
            &[RASH, NON_BLANCHING],
        )
        .window(8),
        r(
            "en.meningitis.child_rash_fever",
            C::Meningitis,
            E,
            &[CHILD, RASH, FEVER],
        )
        .window(14)
        .unless(HEAT_RASH),
        r(
            "en.meningitis.neck",
            C::Meningitis,
            E,
            &[STIFF_NECK, FEVER_OR_RASH],
        )
        .window(12),
        r("en.meningitis.named", C::Meningitis, E, &[MENINGITIS]).unless(MENINGITIS_BENIGN),
        r(
            "en.child.critical",
            C::ChildUnwell,
            E,
            &[CHILD, CHILD_CRITICAL],
        )
        .window(12)
        .unless(BLUE_OBJECTS),
        r(
            "en.abdomen.vomiting_blood",
            C::Abdominal,
            E,
            &[VOMIT, BLOOD_WORD],
        )
        .window(5),
        r(
            "en.head_injury.red_flags",
            C::HeadInjury,
            E,
            &[HEAD_HIT, HEAD_RED],
        )
        .window(14),
        r("en.injury.major", C::Injury, E, &[TRAUMA]),
        r("en.fall.red_flags", C::HeadInjury, E, &[FELL, HEAD_RED])
            .window(12)
            .unless(FELL_ASLEEP),
        r("en.doom", C::Other, E, &[DOOM]).unless(DOOM_BENIGN),
        r("en.shock", C::Other, E, &[SHOCK_LOOK, SHOCK_SWEAT]).window(6),
        r("en.ambulance", C::Other, E, &[AMBULANCE]),
        r("en.testicle", C::Other, E, &[TESTICLE, TESTICLE_BAD]).window(6),
        r("en.back.cauda_equina", C::Other, E, &[BACK, CAUDA]).window(20),
        r(
            "en.palpitations.red",
            C::ChestPain,
            E,
            &[PALPITATIONS, PALP_BAD],
        )
        .window(10),
    ],
};

const THUNDERCLAP_ONLY: Concept = "thunderclap | worst headache | worst head pain";
const FEVER_OR_RASH: Concept = "\
    fever | fevers | feverish | temperature | temp | high temp | homa | joto | rash* | upele | \
    vipele | spots";
const BLUE_OBJECTS: Concept = "\
    inhaler | pump | puffer | blanket | clothes | onesie | eyes | toy | bottle | cup | jacket | \
    dress | shirt | badge | book | crayon | paint";
