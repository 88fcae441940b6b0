//! Wire names, event ids, the envelope's shape, and the same bytes on every retry.

use super::*;

fn slug() -> TenantSlug {
    TenantSlug::parse("harbour-physio").unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn wire_names_round_trip_and_match_serde() {
    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "appointment.created",
            "appointment.changed",
            "appointment.cancelled",
            "conversation.escalated",
            "conversation.handed_off",
            "message.received",
            "data_request.completed",
            "ping"
        ]
    );
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        assert_eq!(t.to_string(), t.as_str());
    }
    assert_eq!(EventType::parse("appointment.deleted"), None);
    assert_eq!(EventType::parse("Ping"), None);
}

#[test]
fn event_ids_are_evt_and_a_hyphenated_uuid() {
    let id = EventId::new();
    let s = id.to_string();
    assert!(s.starts_with("evt_") && s.len() == 40, "{s}");
    assert_eq!(EventId::parse(&s), Some(id));
    assert_eq!(serde_json::to_value(id).unwrap(), json!(s));
    for bad in [
        "",
        "evt_",
        "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6",
        "evt_0190f1a23b4c7d5e8f60718293a4b5c6",
        "evt_{0190f1a2-3b4c-7d5e-8f60-718293a4b5c6}",
        "msg_0190f1a2-3b4c-7d5e-8f60-718293a4b5c6",
    ] {
        assert_eq!(EventId::parse(bad), None, "{bad}");
    }
    assert!(serde_json::from_value::<EventId>(json!("evt_nope")).is_err());
}

#[test]
fn the_envelope_has_the_documented_shape() {
    let appointment = AppointmentData {
        appointment_id: AppointmentId::new(),
        patient_id: PatientId::new(),
        practitioner_id: PractitionerId::new(),
        service_id: ServiceId::new(),
        starts_at: at("2026-12-08T21:00:00Z"),
        ends_at: at("2026-12-08T21:30:00Z"),
        status: AppointmentStatus::Booked,
    };
    let env = Envelope::new(
        slug(),
        EventData::AppointmentCreated(appointment.clone()),
        at("2026-12-06T20:00:00Z"),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&env.to_body().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({
            "id": env.id().to_string(),
            "type": "appointment.created",
            "created_at": "2026-12-06T20:00:00Z",
            "tenant": "harbour-physio",
            "data": {
                "appointment_id": appointment.appointment_id.to_string(),
                "patient_id": appointment.patient_id.to_string(),
                "practitioner_id": appointment.practitioner_id.to_string(),
                "service_id": appointment.service_id.to_string(),
                "starts_at": "2026-12-08T21:00:00Z",
                "ends_at": "2026-12-08T21:30:00Z",
                "status": "booked"
            }
        })
    );
    assert_eq!(env.event_type(), EventType::AppointmentCreated);
}

#[test]
fn every_kind_of_data_carries_ids_times_and_codes_only() {
    let conv = ConversationData {
        conversation_id: ConversationId::new(),
        patient_id: PatientId::new(),
        channel: Channel::Whatsapp,
        at: at("2026-12-06T20:00:00Z"),
    };
    let msg = MessageData {
        message_id: MessageId::new(),
        conversation_id: conv.conversation_id,
        patient_id: conv.patient_id,
        channel: Channel::Sms,
        received_at: at("2026-12-06T20:00:01Z"),
    };
    let dr = DataRequestData {
        patient_id: conv.patient_id,
        kind: DataRequestKind::Erasure,
        completed_at: at("2026-12-06T20:00:02Z"),
    };
    let cases = [
        (
            EventData::ConversationEscalated(conv.clone()),
            "conversation.escalated",
        ),
        (
            EventData::ConversationHandedOff(conv),
            "conversation.handed_off",
        ),
        (EventData::MessageReceived(msg), "message.received"),
        (
            EventData::DataRequestCompleted(dr),
            "data_request.completed",
        ),
        (EventData::Ping, "ping"),
    ];
    for (data, name) in cases {
        let env = Envelope::new(slug(), data, Timestamp::UNIX_EPOCH).unwrap();
        let v: Value = serde_json::from_slice(&env.to_body().unwrap()).unwrap();
        assert_eq!(v["type"], name);
        for (key, value) in v["data"].as_object().unwrap() {
            let ok = key.ends_with("_id")
                || key.ends_with("_at")
                || key == "at"
                || matches!(key.as_str(), "channel" | "kind" | "test");
            assert!(ok, "{name}: unexpected field {key}");
            if key == "channel" {
                assert!(matches!(value.as_str(), Some("whatsapp" | "sms")));
            }
        }
    }
    let ping = Envelope::new(slug(), EventData::Ping, Timestamp::UNIX_EPOCH).unwrap();
    assert_eq!(ping.data(), &json!({"test": true}));
    let v: Value = serde_json::from_slice(
        &Envelope::new(
            slug(),
            EventData::DataRequestCompleted(DataRequestData {
                patient_id: PatientId::new(),
                kind: DataRequestKind::Export,
                completed_at: Timestamp::UNIX_EPOCH,
            }),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap()
        .to_body()
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v["data"]["kind"], "export");
}

#[test]
fn a_stored_envelope_gives_the_same_bytes_and_id_on_every_retry() {
    let env = Envelope::new(slug(), EventData::Ping, at("2026-12-06T20:00:00.123Z")).unwrap();
    let body = env.to_body().unwrap();
    let again = Envelope::from_body(&body).unwrap();
    assert_eq!(again, env);
    assert_eq!(again.id(), env.id());
    assert_eq!(again.to_body().unwrap(), body);
    let other = Envelope::new(slug(), EventData::Ping, at("2026-12-06T20:00:00.123Z")).unwrap();
    assert_ne!(other.id(), env.id(), "a new event gets a new id");
    assert!(Envelope::from_body(br#"{"id":"evt_x","type":"ping"}"#).is_err());
}
