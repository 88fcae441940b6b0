//! Swahili red-flag rules, version `redflags-sw-2026.11`.
//!
//! Written for Kenyan and Tanzanian usage, with the English words patients commonly mix in
//! ("nina chest pain", "mtoto ana fever"). Swahili verbs carry subject and tense as prefixes,
//! so many words are written as suffixes (`*pumua` matches "kupumua", "anapumua"); negative
//! verbs that are themselves the red flag ("hapumui" — is not breathing, "haamki" — does not
//! wake) are listed as phrases, never treated as negation. Perfect-tense fainting ("amezimia",
//! is out now) is an Emergency; past-tense ("alizimia", fainted and came round) is Urgent.

use super::lexicon::CHILD;
use super::rules_en_urgent::DURATION;
use super::{Category as C, Concept, RuleDef, RuleSet, TriageLevel};

const E: TriageLevel = TriageLevel::Emergency;
const U: TriageLevel = TriageLevel::Urgent;

const fn r(id: &'static str, c: C, l: TriageLevel, all: &'static [Concept]) -> RuleDef {
    RuleDef::new(id, c, l, all)
}

const KIFUA: Concept = "kifua | kifuani | moyo | chest";
const KIFUA_UMA: Concept = "\
    maumivu | kinauma | inauma | unauma | kinaniuma | inaniuma | unaniuma | kimeuma | kuuma | \
    kinabana | kimebana | kubana | kubanwa | *banwa | kizito | uzito | kinawaka | pain | tight | \
    pressure | heavy | hurts | hurting";
const KIFUA_MILD: Concept = "\
    kifua kikuu | fiziotherapia | fizio | physio | eksirei | x ray | majibu | vipimo | kipimo";
const MOYO_TUKIO: Concept = "shambulio la moyo | mshtuko wa moyo | moyo umesimama";
const PUMUA: Concept = "\
    *shindwa *pumua | *shindwa *pumuwa | hawezi *pumua | siwezi *pumua | hawezi *pumuwa | \
    siwezi *pumuwa | *pumuwa kwa shida | hawezi kuvuta pumzi | siwezi kuvuta pumzi | \
    *pumua kwa shida | shida ya *pumua | shida kupumua | matatizo ya *pumua | tatizo la *pumua | \
    *tatizika *pumua | hapumui | sipumui | *kosa pumzi | *banwa na pumzi | *banwa pumzi | \
    pumzi _ *kata | pumzi _ *katika | *hema sana | anatweta | *songwa | *kwama kooni | *paliwa | \
    *kabwa | pumu imezidi | shambulio la pumu";
const BLUU: Concept = "\
    *geuka bluu | rangi ya bluu | midomo _ bluu | midomo _ zambarau | *badilika rangi";

const KIHARUSI: Concept = "kiharusi | *pooza";
const KIHARUSI_BENIGN: Concept = "\
    mazoezi | fiziotherapia | fizio | physio | kupona | *pona | tiba | hatari | \
    baada ya kiharusi";
const USO: Concept = "uso | mdomo";
const USO_LEGEA: Concept = "\
    *legea | *pinda | umeshuka | imeshuka | umeenda upande | upande mmoja | ganzi | *pooza";
const USO_BENIGN: Concept = "daktari wa meno | jino | meno | sindano ya ganzi";
const MKONO: Concept = "mkono | mguu | miguu | upande | mwili";
const DHAIFU: Concept = "\
    ganzi | hauna nguvu | hana nguvu | haina nguvu | dhaifu | *legea | *pooza | hawezi kuinua | \
    hawezi kunyanyua | hawezi kusogeza | *kufa ganzi";
const GHAFLA: Concept = "ghafla | upande mmoja | upande wa kushoto | upande wa kulia";
const MANENO: Concept = "*ongea | maneno | *zungumza | sauti";
const MANENO_SHIDA: Concept = "\
    kwa shida | vibaya | hayaeleweki | hayatoki | kigugumizi | ulimi mzito | kama mlevi | \
    *babaisha";
const CHANGANYIKIWA: Concept = "*changanyikiwa";
const CHANGANYIKIWA_BENIGN: Concept = "\
    bei | malipo | miadi | tovuti | fomu | app | ratiba | namba | maelekezo";

const DAMU: Concept = "damu | *vuja damu | *tokwa na damu | *toka damu";
const DAMU_NYINGI: Concept = "\
    nyingi | sana | haiachi | haikomi | haisimami | haiishi | inamwagika | inachuruzika | \
    kwa wingi | kupita kiasi | mfululizo | bila kukoma";
const DAMU_BENIGN: Concept = "\
    fizi | hedhi | siku zangu | kipimo | vipimo | kupima | *changia damu | presha | \
    shinikizo la damu | sukari | kundi la damu";
const MIMBA: Concept = "mjamzito | mimba | ujauzito | *jifungua | tumboni | mama mjamzito";
const MIMBA_BENIGN: Concept = "\
    kipimo | vipimo | kupima | presha | shinikizo | sukari | fizi | kundi la damu";
const KIDOGO: Concept = "kidogo | matone | tone";
const HACHEZI: Concept = "\
    hachezi | hacheza | haichezi | amepunguza kucheza | *punguza kucheza | hasogei | hajacheza | \
    hajatikisika | sijamsikia _ *cheza | simsikii _ *cheza | harakati zimepungua";
const MIMBA_MAUMIVU: Concept = "maumivu makali | makali | kali sana | kali mno";
const MIMBA_KICHWA: Concept = "\
    kichwa _ kinauma sana | maumivu makali ya kichwa | macho _ ukungu | *ona ukungu | \
    *ona nyota | kuona vibaya | kifafa cha mimba";
const MIMBA_KARIBU: Concept = "\
    maji yamevunjika | chupa imepasuka | uchungu | *vimba miguu | *vimba uso";

const ZIMIA: Concept = "\
    amezimia | *mezimia | anazimia | hajitambui | hana fahamu | *poteza fahamu | hazinduki | \
    haamki | hajaamka | hawezi kuamka | haitikii | hasemi wala hasikii | hainuki | hapumui | \
    hana mapigo ya moyo | mapigo ya moyo hayapo | ameanguka ghafla | *collapse | *collapsed | \
    amefaint | *mefaint | ameblackout";
const ZIMIA_ZAMANI: Concept = "*lizimia | kuzimia | nahisi kuzimia | kizunguzungu kikali";
const ANGUKA: Concept = "ameanguka | alianguka | *anguka";
const HAINUKI: Concept = "hawezi kuinuka | hawezi kusimama | yuko chini";
const KIFAFA: Concept = "\
    degedege | kifafa | anakakamaa | *kakamaa | *tetemeka mwili mzima | macho yamegeuka | \
    macho yamepinduka | *rusha miguu | povu mdomoni";
const KIFAFA_BENIGN: Concept = "\
    dawa za kifafa | vidonge vya kifafa | dawa ya kifafa | kliniki ya kifafa | kujaza dawa";
const MZIO: Concept = "mzio mkali | mzio mbaya | mzio umezidi";
const SEHEMU_VIMBA: Concept = "koo | ulimi | midomo | mdomo | uso";
const VIMBA: Concept = "*vimba | uvimbe";
const VIMBA_MILD: Concept = "jino | meno | fizi | mafua | tezi | tonsils | koo linauma";
const KUJIUA: Concept = "\
    *jiua | *jiuwa | kujidhuru | *jidhuru | *jinyonga | nataka kufa | anataka kufa | \
    natamani kufa | sitaki kuishi | hataki kuishi | sioni sababu ya kuishi | \
    maisha hayana maana | bora nife | afadhali nife | ni heri nife | kujitoa uhai | \
    *jitoa uhai | *jiumiza makusudi | *kata mishipa";
const SUMU: Concept = "sumu | dawa ya panya | dawa ya kuua wadudu";
const SUMU_BENIGN: Concept = "sumu ya chakula | sumu kwenye chakula | chakula";
const AMEMEZA: Concept = "*memeza | *limeza | kumeza | amekula | alikula | *mekunywa | *likunywa";
const KEMIKALI: Concept = "\
    jiki | mafuta ya taa | petroli | kemikali | sabuni | betri | asidi | dawa ya mbu | mbolea";
const VIDONGE: Concept = "vidonge | dawa | tembe";
const VINGI: Concept = "\
    vingi | nyingi | vyote | zote | kupita kiasi | chupa nzima | paketi nzima | kiasi kikubwa";
const UNGUA: Concept = "*ungua | *unguzwa | *chomwa na moto | *chomeka | *babuka";
const UNGUA_VIBAYA: Concept = "\
    vibaya | sana | maji ya moto | mafuta ya moto | moto | uso | mwili mzima | kubwa | \
    malengelenge | umeme | asidi | kifua | ngozi imetoka";
const MAJI_MOTO: Concept = "\
    maji ya moto | maji moto | mafuta ya moto | uji wa moto | chai ya moto | hot water | \
    boiling water";
const MAJI_TUKIO: Concept = "*anguka | *mwagikia | *mwagika | *mwaga | *ungua | *babuka | ngozi";
const UNGUA_BENIGN: Concept = "jua | kiungulia";

const KICHWA: Concept = "\
    maumivu ya kichwa | kichwa _ kinauma | kichwa kinaniuma | kichwa _ kimeuma | kichwa";
const KICHWA_GHAFLA: Concept = "\
    ghafla | makali sana | kama radi | sijawahi | kuliko kawaida | mlipuko";
const KICHWA_MAKALI: Concept = "makali | kali sana | kali mno";
const KICHWA_KAWAIDA: Concept = "kawaida | mara kwa mara | kila mwezi | sugu | dawa";
const SHINGO: Concept = "shingo ngumu | shingo _ *kaza | shingo imekakamaa";
const HOMA: Concept = "homa | joto | fever | temperature";
const UPELE: Concept = "upele | vipele | madoa | rash";
const UPELE_JOTO: Concept = "upele _ joto | vipele _ joto";
const UPELE_MBAYA: Concept = "haupotei | havipotei | hayapotei | zambarau | glasi";
const TAPIKA: Concept = "*tapika";
const KICHWA_JERAHA: Concept = "\
    *gonga kichwa | *umia kichwa | *umia kichwani | jeraha la kichwa | *anguka _ kichwa | \
    *pigwa kichwani | *gonga kichwani";
const KICHWA_HATARI: Concept = "\
    *tapika | usingizi | *sinzia | *zimia | *changanyikiwa | hajitambui | degedege | kifafa | \
    damu masikioni | hakumbuki";
const MTOTO_HATARI: Concept = "\
    *legea | mlegevu | hapumui | haamki | hajitambui | haitikii | *geuka bluu | rangi ya bluu | \
    bluu | *zimia | hajaamka | kifua kinaingia ndani | mbavu zinaingia ndani | utosi umevimba | \
    analia kwa sauti ya juu";
const MTOTO_DHAIFU: Concept = "\
    *nyongonyea | hanyonyi | hanywi | hali wala hanywi | hajakojoa | macho yameingia ndani | \
    hachezi kabisa";
const AJALI: Concept = "\
    *gongwa na gari | ajali ya gari | ajali ya pikipiki | *chomwa kisu | *zama majini | \
    *zama maji | amezama | *pigwa shoti | shoti ya umeme | *pigwa risasi | *umwa na nyoka | \
    *anguka kutoka juu | *anguka kutoka ghorofani | mfupa umetoka nje";
const DHARURA: Concept = "\
    ambulensi | gari la wagonjwa | ni dharura | anakufa | anakaribia kufa | hali ni mbaya sana";

const HOMA_KALI: Concept = "homa kali | joto kali | homa ya #t | joto la #t | nyuzi #t";
const MCHANGA: Concept = "\
    mtoto mchanga | kichanga | wa wiki # | wa siku # | wa mwezi mmoja | wa miezi #";
const UPASUAJI: Concept = "upasuaji | oparesheni | operesheni | operation | surgery";
const UPASUAJI_MBAYA: Concept = "\
    maumivu _ *ongezeka | *ongezeka | zaidi | *vimba | usaha | homa | wekundu | nyekundu | \
    *nuka | harufu | kinatoa | kimefunguka | *zidi";
const KIDONDA: Concept = "kidonda | jeraha | mshono | wound";
const KIDONDA_MBAYA: Concept = "\
    usaha | *oza | *nuka | harufu | *vimba | chekundu | wekundu | maambukizi | *ambukizwa | \
    kinatoa maji | kinauma zaidi";
const KUHARA: Concept = "*tapika | *hara | *harisha";
const HAWEZI_KUNYWA: Concept = "\
    hawezi kunywa chochote | anatapika kila kitu | hawezi kula wala kunywa";
const HAKANYAGI: Concept = "\
    siwezi *kanyagia | hawezi *kanyagia | siwezi kukanyaga | hawezi kukanyaga | \
    siwezi kutembea | hawezi kutembea";
const MFUPA: Concept = "kuvunjika mfupa | *vunjika mkono | *vunjika mguu | mfupa _ *vunjika";
const KUUMWA: Concept = "*umwa na mbwa | *umwa na paka | *ngatwa na mbwa";
const MKOJO: Concept = "damu kwenye mkojo | damu katika mkojo | hawezi kukojoa | siwezi kukojoa";
const SUKARI: Concept = "\
    sukari _ juu sana | sukari _ chini sana | sukari imepanda sana | sukari imeshuka sana";
const MAUMIVU_MAKALI: Concept = "\
    maumivu makali sana | maumivu yasiyovumilika | maumivu makali ya tumbo | tumbo _ makali";
const MZIO_KAWAIDA: Concept = "\
    mzio umenipanda | mzio umempanda | vipele baada ya dawa | *washwa mwili mzima";
const KINYESI: Concept = "kinyesi cheusi | damu kwenye kinyesi | damu katika kinyesi | *kohoa damu";

pub(crate) const RULES: RuleSet = RuleSet {
    name: "redflags-sw-2026.11",
    rules: &[
        r("sw.kifua.maumivu", C::ChestPain, E, &[KIFUA, KIFUA_UMA])
            .window(6)
            .milder(KIFUA_MILD),
        r("sw.moyo.shambulio", C::ChestPain, E, &[MOYO_TUKIO]),
        r("sw.kupumua.shida", C::Breathing, E, &[PUMUA]),
        r("sw.kupumua.bluu", C::Breathing, E, &[BLUU]),
        r("sw.kiharusi.jina", C::Stroke, E, &[KIHARUSI]).unless(KIHARUSI_BENIGN),
        r("sw.kiharusi.uso", C::Stroke, E, &[USO, USO_LEGEA])
            .window(5)
            .unless(USO_BENIGN),
        r("sw.kiharusi.mkono", C::Stroke, E, &[MKONO, DHAIFU, GHAFLA]).window(10),
        r("sw.kiharusi.maneno", C::Stroke, E, &[MANENO, MANENO_SHIDA]).window(4),
        r(
            "sw.kiharusi.kuchanganyikiwa",
            C::Stroke,
            E,
            &[CHANGANYIKIWA, GHAFLA],
        )
        .window(6),
        r("sw.damu.nyingi", C::Bleeding, E, &[DAMU, DAMU_NYINGI])
            .window(6)
            .unless(DAMU_BENIGN),
        r("sw.mimba.damu", C::Pregnancy, E, &[MIMBA, DAMU])
            .window(12)
            .unless(MIMBA_BENIGN)
            .milder(KIDOGO),
        r("sw.mimba.hachezi", C::Pregnancy, E, &[MIMBA, HACHEZI]).window(12),
        r("sw.mimba.maumivu", C::Pregnancy, E, &[MIMBA, MIMBA_MAUMIVU]).window(10),
        r("sw.mimba.kichwa", C::Pregnancy, E, &[MIMBA, MIMBA_KICHWA]).window(12),
        r("sw.fahamu", C::Unconscious, E, &[ZIMIA]),
        r("sw.kuanguka", C::Injury, E, &[ANGUKA, HAINUKI]).window(6),
        r("sw.kifafa", C::Seizure, E, &[KIFAFA]).unless(KIFAFA_BENIGN),
        r("sw.mzio.mkali", C::Allergy, E, &[MZIO]),
        r("sw.mzio.kuvimba", C::Allergy, E, &[SEHEMU_VIMBA, VIMBA])
            .window(4)
            .milder(VIMBA_MILD),
        r("sw.kujiua", C::SelfHarm, E, &[KUJIUA]).sticky(),
        r("sw.sumu", C::Poisoning, E, &[SUMU]).unless(SUMU_BENIGN),
        r("sw.sumu.kemikali", C::Poisoning, E, &[AMEMEZA, KEMIKALI]).window(6),
        r(
            "sw.sumu.vidonge",
            C::Poisoning,
            E,
            &[AMEMEZA, VIDONGE, VINGI],
        )
        .window(6),
        r("sw.sumu.mtoto", C::Poisoning, E, &[CHILD, AMEMEZA, VIDONGE]).window(10),
        r("sw.moto", C::Burns, E, &[UNGUA, UNGUA_VIBAYA])
            .window(8)
            .unless(UNGUA_BENIGN)
            .milder(KIDOGO),
        r("sw.moto.maji", C::Burns, E, &[MAJI_MOTO, MAJI_TUKIO])
            .window(6)
            .milder(KIDOGO),
        r("sw.kichwa.ghafla", C::Headache, E, &[KICHWA, KICHWA_GHAFLA]).window(8),
        r("sw.homa_uti.shingo", C::Meningitis, E, &[SHINGO, HOMA]).window(12),
        r("sw.homa_uti.upele", C::Meningitis, E, &[UPELE, UPELE_MBAYA]).window(6),
        r("sw.homa_uti.mtoto", C::Meningitis, E, &[CHILD, UPELE, HOMA])
            .window(14)
            .unless(UPELE_JOTO),
        r("sw.tumbo.kutapika_damu", C::Abdominal, E, &[TAPIKA, DAMU]).window(4),
        r(
            "sw.kichwa.jeraha_hatari",
            C::HeadInjury,
            E,
            &[KICHWA_JERAHA, KICHWA_HATARI],
        )
        .window(14),
        r("sw.mtoto.hatari", C::ChildUnwell, E, &[CHILD, MTOTO_HATARI]).window(12),
        r("sw.ajali", C::Injury, E, &[AJALI]),
        r("sw.dharura", C::Other, E, &[DHARURA]),
        // Urgent: staff should see these today.
        r("sw.mimba.karibu", C::Pregnancy, U, &[MIMBA, MIMBA_KARIBU]).window(12),
        r("sw.kuzimia.zamani", C::Unconscious, U, &[ZIMIA_ZAMANI]),
        r("sw.kuchanganyikiwa", C::Stroke, U, &[CHANGANYIKIWA]).unless(CHANGANYIKIWA_BENIGN),
        r("sw.kichwa.makali", C::Headache, U, &[KICHWA, KICHWA_MAKALI])
            .window(6)
            .unless(KICHWA_KAWAIDA),
        r("sw.kichwa.jeraha", C::HeadInjury, U, &[KICHWA_JERAHA]),
        r("sw.mtoto.dhaifu", C::ChildUnwell, U, &[CHILD, MTOTO_DHAIFU]).window(12),
        r("sw.homa.kali", C::Fever, U, &[HOMA_KALI]),
        r("sw.homa.mchanga", C::Fever, U, &[MCHANGA, HOMA]).window(10),
        r("sw.homa.siku", C::Fever, U, &[HOMA, DURATION]).window(10),
        r(
            "sw.upasuaji",
            C::PostOperative,
            U,
            &[UPASUAJI, UPASUAJI_MBAYA],
        )
        .window(12),
        r("sw.kidonda", C::Wound, U, &[KIDONDA, KIDONDA_MBAYA]).window(8),
        r("sw.kuhara.siku", C::Abdominal, U, &[KUHARA, DURATION]).window(10),
        r("sw.kunywa", C::Dehydration, U, &[HAWEZI_KUNYWA]),
        r("sw.mfupa", C::Injury, U, &[MFUPA]),
        r("sw.kukanyaga", C::Injury, U, &[HAKANYAGI]),
        r("sw.kuumwa", C::Injury, U, &[KUUMWA]),
        r("sw.mkojo", C::Other, U, &[MKOJO]),
        r("sw.sukari", C::Other, U, &[SUKARI]),
        r("sw.maumivu.makali", C::Other, U, &[MAUMIVU_MAKALI]),
        r("sw.mzio", C::Allergy, U, &[MZIO_KAWAIDA]),
        r("sw.kinyesi", C::Abdominal, U, &[KINYESI]),
    ],
};
