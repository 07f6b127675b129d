//! Which Salesforce call a contact event asks for (`anchor-spec.md` §3.3), as pure functions.

use scv_core::text::truthy;
use serde_json::Value;

const DETAIL_TYPE: &str = "Amazon Connect Contact Event";
const ROUTED_METHODS: [&str; 2] = ["INBOUND", "TRANSFER"];

/// What to do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// The caller hung up before an agent took the call: delete its pending routing.
    ClearRouting,
    /// The first routing step expired while agents were targeted: route to another agent.
    Reroute,
    /// Nothing for Salesforce to do.
    None,
}

/// The first rule that matches wins: abandoned disconnect, then expired routing step.
pub fn decide(event: &Value) -> Action {
    if is_abandoned_disconnect(event) {
        Action::ClearRouting
    } else if is_routing_step_expired(event) {
        Action::Reroute
    } else {
        Action::None
    }
}

fn routed_contact_event<'a>(event: &'a Value, event_type: &str) -> Option<&'a Value> {
    let detail = event.get("detail").filter(|d| d.is_object())?;
    let method = detail.get("initiationMethod").and_then(Value::as_str)?;
    (event.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
        && ROUTED_METHODS.contains(&method)
        && detail.get("eventType").and_then(Value::as_str) == Some(event_type))
    .then_some(detail)
}

/// An INBOUND or TRANSFER contact disconnected with no agent (abandoned in queue).
pub fn is_abandoned_disconnect(event: &Value) -> bool {
    routed_contact_event(event, "DISCONNECTED")
        .is_some_and(|detail| !detail.get("agentInfo").is_some_and(truthy))
}

/// An INBOUND or TRANSFER contact whose first routing step, targeting agents, has `EXPIRED`.
/// Only the first step counts; an empty `agentIds` list still counts as agent criteria.
pub fn is_routing_step_expired(event: &Value) -> bool {
    let Some(detail) = routed_contact_event(event, "CONTACT_DATA_UPDATED") else {
        return false;
    };
    let Some(step) = detail.pointer("/routingCriteria/steps/0") else {
        return false;
    };
    step.pointer("/expression/attributeCondition/matchCriteria/agentsCriteria")
        .is_some_and(truthy)
        && step.get("status").and_then(Value::as_str) == Some("EXPIRED")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn abandoned() -> Value {
        json!({"detail-type": "Amazon Connect Contact Event", "detail": {"initiationMethod": "INBOUND", "eventType": "DISCONNECTED"}})
    }

    fn expired() -> Value {
        json!({
            "detail-type": "Amazon Connect Contact Event",
            "detail": {
                "initiationMethod": "TRANSFER",
                "eventType": "CONTACT_DATA_UPDATED",
                "routingCriteria": {"steps": [{
                    "expression": {"attributeCondition": {"matchCriteria": {"agentsCriteria": {"agentIds": []}}}},
                    "status": "EXPIRED"
                }]}
            }
        })
    }

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        *event.pointer_mut(pointer).unwrap() = value;
        event
    }

    #[test]
    fn abandoned_disconnect_matches_the_reference_tests() {
        let cases = [
            ("1 base event", abandoned(), true),
            ("2 event null", Value::Null, false),
            ("3 detail null", with(abandoned(), "/detail", Value::Null), false),
            (
                "4 wrong detail-type",
                with(abandoned(), "/detail-type", json!("Other")),
                false,
            ),
            (
                "5 wrong initiationMethod",
                with(abandoned(), "/detail/initiationMethod", json!("OUTBOUND")),
                false,
            ),
            (
                "6 wrong eventType",
                with(abandoned(), "/detail/eventType", json!("CONNECTED_TO_AGENT")),
                false,
            ),
            (
                "7 agentInfo present",
                with(
                    abandoned(),
                    "/detail",
                    json!({"initiationMethod": "INBOUND", "eventType": "DISCONNECTED", "agentInfo": {"agentArn": "a"}}),
                ),
                false,
            ),
            (
                "TRANSFER",
                with(abandoned(), "/detail/initiationMethod", json!("TRANSFER")),
                true,
            ),
            (
                "agentInfo null",
                with(
                    abandoned(),
                    "/detail",
                    json!({"initiationMethod": "INBOUND", "eventType": "DISCONNECTED", "agentInfo": null}),
                ),
                true,
            ),
        ];
        for (name, event, expected) in cases {
            assert_eq!(is_abandoned_disconnect(&event), expected, "case {name}");
        }
    }

    #[test]
    fn routing_step_expired_matches_the_reference_tests() {
        let step = "/detail/routingCriteria/steps/0";
        let cases = [
            ("8 base event", expired(), true),
            ("9 event null", Value::Null, false),
            ("10 detail null", with(expired(), "/detail", Value::Null), false),
            (
                "11 routingCriteria null",
                with(expired(), "/detail/routingCriteria", Value::Null),
                false,
            ),
            (
                "12 wrong detail-type",
                with(expired(), "/detail-type", json!("Other")),
                false,
            ),
            (
                "13 wrong initiationMethod",
                with(expired(), "/detail/initiationMethod", json!("CALLBACK")),
                false,
            ),
            (
                "14 wrong eventType",
                with(expired(), "/detail/eventType", json!("DISCONNECTED")),
                false,
            ),
            (
                "15 steps empty",
                with(expired(), "/detail/routingCriteria/steps", json!([])),
                false,
            ),
            (
                "16 status ACTIVE",
                with(expired(), &format!("{step}/status"), json!("ACTIVE")),
                false,
            ),
            (
                "17 status JOINED",
                with(expired(), &format!("{step}/status"), json!("JOINED")),
                false,
            ),
            (
                "18 expression null",
                with(expired(), &format!("{step}/expression"), Value::Null),
                false,
            ),
            (
                "19 attributeCondition null",
                with(
                    expired(),
                    &format!("{step}/expression/attributeCondition"),
                    Value::Null,
                ),
                false,
            ),
            (
                "20 matchCriteria null",
                with(
                    expired(),
                    &format!("{step}/expression/attributeCondition/matchCriteria"),
                    Value::Null,
                ),
                false,
            ),
            (
                "21 agentsCriteria null",
                with(
                    expired(),
                    &format!("{step}/expression/attributeCondition/matchCriteria/agentsCriteria"),
                    Value::Null,
                ),
                false,
            ),
        ];
        for (name, event, expected) in cases {
            assert_eq!(is_routing_step_expired(&event), expected, "case {name}");
        }
    }

    #[test]
    fn the_first_rule_wins_and_everything_else_is_left_alone() {
        assert_eq!(decide(&abandoned()), Action::ClearRouting);
        assert_eq!(decide(&expired()), Action::Reroute);
        assert_eq!(decide(&json!({"detail-type": "Scheduled Event"})), Action::None);
        assert_eq!(decide(&json!("not an object")), Action::None);
        let later_step_expired = with(
            expired(),
            "/detail/routingCriteria/steps",
            json!([{"status": "ACTIVE"}, {"status": "EXPIRED"}]),
        );
        assert_eq!(
            decide(&later_step_expired),
            Action::None,
            "only the first step counts"
        );
    }
}
