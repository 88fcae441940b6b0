use super::*;

fn call(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: "call_1".into(),
        name: name.into(),
        arguments,
    }
}

#[test]
fn every_offered_tool_has_a_valid_name_and_an_object_schema() {
    let specs = specs();
    assert_eq!(specs.len(), 8);
    for s in &specs {
        assert!(
            s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        assert_eq!(s.input_schema["type"], "object");
        assert_eq!(s.input_schema["additionalProperties"], false);
    }
}

#[test]
fn well_formed_calls_parse_into_typed_requests() {
    let got = parse(&call(
        "find_slots",
        json!({"service": " Physiotherapy ", "date": "2026-12-08", "days": 3}),
    ))
    .unwrap();
    assert_eq!(
        got,
        ToolRequest::FindSlots {
            service: "Physiotherapy".into(),
            date: jiff::civil::date(2026, 12, 8),
            days: 3,
            practitioner: None,
        }
    );
    assert_eq!(
        parse(&call("book", json!({"slot": 2}))).unwrap(),
        ToolRequest::Book { slot: 2 }
    );
    assert_eq!(
        parse(&call("reschedule", json!({"appointment": 1, "slot": 3}))).unwrap(),
        ToolRequest::Reschedule {
            appointment: 1,
            slot: 3
        }
    );
    assert_eq!(
        parse(&call("escalate", json!({"level": "emergency"}))).unwrap(),
        ToolRequest::Escalate { emergency: true }
    );
    assert_eq!(
        parse(&call("my_appointments", json!({}))).unwrap(),
        ToolRequest::MyAppointments
    );
}

#[test]
fn unknown_tools_and_bad_arguments_are_refused() {
    let refused = [
        call("run_sql", json!({"query": "select * from patients"})),
        call("book_for_patient", json!({"slot": 1})),
        call("book", json!({"slot": 1, "patient_id": "0192"})),
        call(
            "book",
            json!({"slot": "0192f5e0-aaaa-7bbb-8ccc-000000000000"}),
        ),
        call("book", json!({"slot": 0})),
        call("book", json!({"slot": -1})),
        call("book", json!({"slot": 256})),
        call("cancel", json!({"appointment_id": "0192"})),
        call("my_appointments", json!({"patient": "Wanjiru"})),
        call(
            "find_slots",
            json!({"service": "x", "date": "next tuesday"}),
        ),
        call(
            "find_slots",
            json!({"service": "x", "date": "2026-12-08", "days": 90}),
        ),
        call("find_slots", json!({"service": "", "date": "2026-12-08"})),
        call(
            "find_slots",
            json!({"service": "a\u{0}b", "date": "2026-12-08"}),
        ),
        call("faq", json!({"question": "x".repeat(201)})),
        call("escalate", json!({"level": "none"})),
        call("escalate", json!({"level": "lower"})),
        call("hand_off", json!({"to": "https://evil.example"})),
    ];
    for c in refused {
        assert!(parse(&c).is_err(), "{} {}", c.name, c.arguments);
    }
    assert_eq!(
        parse(&call("delete_everything", json!({}))),
        Err(Refusal::UnknownTool)
    );
}
