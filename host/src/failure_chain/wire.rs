//! Failure chains cut on the wire, before prost decodes what the server sent.
//!
//! prost gives up on a message nested deeper than 100 levels, so a chain that deep cannot
//! be cut after decoding: it must be cut in the encoded bytes. The Temporal API schema
//! (the descriptor set [`crate::descriptors`] embeds) says which fields are messages of
//! which type; the walker below visits every message prost will decode, skips everything
//! else by its length, and rewrites a message only when something in it must go:
//!
//! - a failure chain longer than [`MAX_FAILURE_CHAIN`] is cut (see [`crate::failure_chain`]);
//!   of a failure's repeated `cause` fields (prost merges them) only the last is kept;
//! - groups, a long-deprecated wire type Temporal's API never uses, are dropped: prost
//!   skips unknown ones by recursing, so a deep one would refuse the whole message;
//! - a message nested deeper than [`MAX_NESTING`] (only a recursive type other than
//!   `Failure` could get there, and prost would refuse it) is dropped.
//!
//! A response with none of these is scanned once and passed on untouched, without a copy.
//! The walker trusts nothing it reads: every length is checked against the bytes left,
//! its recursion is bounded, and bytes it cannot parse are passed on unchanged for prost
//! to reject as it would have anyway.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, Kind};

use super::{FAILURE_SOURCE, MAX_FAILURE_CHAIN, omitted_message};

const FAILURE: &str = "temporal.api.failure.v1.Failure";
const FAILURE_MESSAGE_FIELD: u32 = 1;
const FAILURE_SOURCE_FIELD: u32 = 2;
const FAILURE_CAUSE_FIELD: u32 = 4;

/// Deepest nesting of messages passed on: below prost's limit of 100, with room for the
/// envelope a decoder may add around a message it re-decodes.
const MAX_NESTING: usize = 90;

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_START_GROUP: u8 = 3;
const WIRE_END_GROUP: u8 = 4;
const WIRE_FIXED32: u8 = 5;

type TypeId = usize;

/// The message types of the schema, by what the walker needs of them.
struct Schema {
    /// Per message type: its message-typed fields, as (field number, field type), sorted
    /// by number.
    fields: Vec<Vec<(u32, TypeId)>>,
    by_name: HashMap<String, TypeId>,
    failure: TypeId,
    /// The response type of each RPC, by `/service/method`.
    responses: HashMap<String, TypeId>,
}

impl Schema {
    fn build(pool: &DescriptorPool) -> Option<Self> {
        let messages: Vec<_> = pool.all_messages().collect();
        let by_name: HashMap<String, TypeId> = messages
            .iter()
            .enumerate()
            .map(|(id, m)| (m.full_name().to_owned(), id))
            .collect();
        let fields = messages
            .iter()
            .map(|message| {
                let mut fields: Vec<(u32, TypeId)> = message
                    .fields()
                    .filter_map(|field| match field.kind() {
                        Kind::Message(target) => by_name
                            .get(target.full_name())
                            .map(|&to| (field.number(), to)),
                        _ => None,
                    })
                    .collect();
                fields.sort_unstable();
                fields
            })
            .collect();
        let mut responses = HashMap::new();
        for service in pool.services() {
            for method in service.methods() {
                if let Some(&id) = by_name.get(method.output().full_name()) {
                    responses.insert(format!("/{}/{}", service.full_name(), method.name()), id);
                }
            }
        }
        Some(Self {
            fields,
            failure: *by_name.get(FAILURE)?,
            by_name,
            responses,
        })
    }

    fn field_type(&self, ty: TypeId, number: u32) -> Option<TypeId> {
        let fields = &self.fields[ty];
        fields
            .binary_search_by_key(&number, |&(n, _)| n)
            .ok()
            .map(|at| fields[at].1)
    }
}

fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let schema = crate::descriptors::pool().ok().and_then(Schema::build);
            if schema.is_none() {
                tracing::error!(
                    "the embedded Temporal API schema has no failure type; failure chains \
                     are not bounded (a Sandglass build bug, please report it)"
                );
            }
            schema
        })
        .as_ref()
}

/// The response of RPC `service/method` with every failure chain cut to
/// [`MAX_FAILURE_CHAIN`] frames (and the rest above removed), or `None` when it has
/// nothing to cut (or cannot be read).
pub(crate) fn bound_response(service: &str, method: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let schema = schema()?;
    let path = format!("/{service}/{method}");
    let ty = *schema.responses.get(&path)?;
    Walker { schema }.top(ty, bytes)
}

/// Like [`bound_response`], for an encoded message of the type named `full_name`.
pub(crate) fn bound_message(full_name: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let schema = schema()?;
    let ty = *schema.by_name.get(full_name)?;
    Walker { schema }.top(ty, bytes)
}

struct Walker<'a> {
    schema: &'a Schema,
}

/// One field of an encoded message: its number, wire type, where its key starts and
/// where its value lies (for length-delimited fields the bytes after the length, for
/// groups the bytes up to and including the end tag).
struct Field {
    number: u32,
    wire_type: u8,
    start: usize,
    value: std::ops::Range<usize>,
}

impl Walker<'_> {
    fn top(&self, ty: TypeId, bytes: &[u8]) -> Option<Vec<u8>> {
        let frame = (ty == self.schema.failure).then_some(0);
        self.message(ty, bytes, frame, 1)
    }

    /// Walks a message of type `ty` at depth `nesting`; `frame` is its index in a failure
    /// chain when it is a failure. Returns the rewritten message if anything in it had to
    /// go.
    fn message(
        &self,
        ty: TypeId,
        bytes: &[u8],
        frame: Option<usize>,
        nesting: usize,
    ) -> Option<Vec<u8>> {
        let is_failure = ty == self.schema.failure;
        // prost merges a failure's repeated causes; the last one stands for them all.
        let last_cause = if is_failure {
            fields(bytes)
                .filter_map(|field| field.filter(is_cause).map(|f| f.start))
                .last()
        } else {
            None
        };
        let mut replaced: Vec<(Field, Option<Vec<u8>>)> = Vec::new();
        for field in fields(bytes) {
            let field = field?;
            if field.wire_type == WIRE_START_GROUP {
                replaced.push((field, None));
                continue;
            }
            if field.wire_type != WIRE_LEN {
                continue;
            }
            let Some(child) = self.schema.field_type(ty, field.number) else {
                continue;
            };
            let cause = is_failure && is_cause(&field);
            if (cause && Some(field.start) != last_cause) || nesting >= MAX_NESTING {
                replaced.push((field, None));
                continue;
            }
            let value = &bytes[field.value.clone()];
            let child_frame = match (frame, child == self.schema.failure) {
                (Some(index), true) if cause => Some(index + 1),
                (_, true) => Some(0),
                (_, false) => None,
            };
            let rewritten = match child_frame {
                // The last frame a chain keeps has no cause. (The count in `omit_rest`
                // follows one path; this holds whatever it missed.)
                Some(index) if index >= MAX_FAILURE_CHAIN => Some(None),
                Some(index) if index == MAX_FAILURE_CHAIN - 2 => omit_rest(value)
                    .or_else(|| self.message(child, value, child_frame, nesting + 1))
                    .map(Some),
                _ => self
                    .message(child, value, child_frame, nesting + 1)
                    .map(Some),
            };
            if let Some(rewritten) = rewritten {
                replaced.push((field, rewritten));
            }
        }
        if replaced.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut copied = 0;
        for (field, value) in replaced {
            out.extend_from_slice(&bytes[copied..field.start]);
            if let Some(value) = value {
                put_len_field(&mut out, field.number, &value);
            }
            copied = field.value.end;
        }
        out.extend_from_slice(&bytes[copied..]);
        Some(out)
    }
}

fn is_cause(field: &Field) -> bool {
    field.number == FAILURE_CAUSE_FIELD && field.wire_type == WIRE_LEN
}

/// `failure` would be the frame at index `MAX_FAILURE_CHAIN - 2` of its chain; if the
/// chain goes on past [`MAX_FAILURE_CHAIN`], the frame that says what was left out,
/// with the chain's root cause as its cause.
fn omit_rest(failure: &[u8]) -> Option<Vec<u8>> {
    let mut frames = 1;
    let mut root = failure;
    while let Some(cause) = last_cause(root) {
        root = cause;
        frames += 1;
    }
    let depth = MAX_FAILURE_CHAIN - 2 + frames;
    if depth <= MAX_FAILURE_CHAIN {
        return None;
    }
    let omitted = frames - 1;
    let mut note = Vec::new();
    put_len_field(
        &mut note,
        FAILURE_MESSAGE_FIELD,
        omitted_message(omitted, depth).as_bytes(),
    );
    put_len_field(&mut note, FAILURE_SOURCE_FIELD, FAILURE_SOURCE.as_bytes());
    put_len_field(&mut note, FAILURE_CAUSE_FIELD, &root_frame(root)?);
    Some(note)
}

/// A failure's cause, for counting the chain below it: the last occurrence of the field,
/// the one the walk keeps.
fn last_cause(failure: &[u8]) -> Option<&[u8]> {
    let mut cause = None;
    for field in fields(failure) {
        let field = field?;
        if is_cause(&field) {
            cause = Some(&failure[field.value]);
        }
    }
    cause
}

/// The root frame of a cut chain: its own fields, without causes or groups. Its other
/// message fields (failure info, details) hold no failures and nest a few levels at
/// most.
fn root_frame(failure: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(failure.len());
    for field in fields(failure) {
        let field = field?;
        if field.number != FAILURE_CAUSE_FIELD && field.wire_type != WIRE_START_GROUP {
            out.extend_from_slice(&failure[field.start..field.value.end]);
        }
    }
    Some(out)
}

/// The fields of an encoded message, in order; `None` for bytes that are not one.
fn fields(bytes: &[u8]) -> impl Iterator<Item = Option<Field>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let field = read_field(bytes, at);
        // Stop after the first malformed field.
        at = field.as_ref().map_or(bytes.len(), |f| f.value.end);
        Some(field)
    })
}

fn read_field(bytes: &[u8], start: usize) -> Option<Field> {
    let (number, wire_type, mut at) = read_key(bytes, start)?;
    let value_start;
    match wire_type {
        WIRE_VARINT => {
            value_start = at;
            at = read_varint(bytes, at)?.1;
        }
        WIRE_FIXED64 => {
            value_start = at;
            at = at.checked_add(8)?;
        }
        WIRE_LEN => {
            let (len, after) = read_varint(bytes, at)?;
            value_start = after;
            at = after.checked_add(usize::try_from(len).ok()?)?;
        }
        WIRE_FIXED32 => {
            value_start = at;
            at = at.checked_add(4)?;
        }
        WIRE_START_GROUP => {
            value_start = at;
            at = skip_group(bytes, at, number)?;
        }
        // An end tag with no group open, or a wire type that does not exist.
        _ => return None,
    }
    (at <= bytes.len()).then_some(Field {
        number,
        wire_type,
        start,
        value: value_start..at,
    })
}

/// Where the group `number` whose contents start at `at` ends (just past its end tag).
/// Nested groups are counted, not recursed into.
fn skip_group(bytes: &[u8], mut at: usize, number: u32) -> Option<usize> {
    let mut open = vec![number];
    while let Some(&innermost) = open.last() {
        let (field, wire_type, after) = read_key(bytes, at)?;
        at = match wire_type {
            WIRE_VARINT => read_varint(bytes, after)?.1,
            WIRE_FIXED64 => after.checked_add(8)?,
            WIRE_LEN => {
                let (len, value) = read_varint(bytes, after)?;
                value.checked_add(usize::try_from(len).ok()?)?
            }
            WIRE_FIXED32 => after.checked_add(4)?,
            WIRE_START_GROUP => {
                open.push(field);
                after
            }
            WIRE_END_GROUP if field == innermost => {
                open.pop();
                after
            }
            _ => return None,
        };
        if at > bytes.len() {
            return None;
        }
    }
    Some(at)
}

/// A field's key: its number (never 0) and wire type, and where its value starts.
fn read_key(bytes: &[u8], at: usize) -> Option<(u32, u8, usize)> {
    let (key, after) = read_varint(bytes, at)?;
    let number = u32::try_from(key >> 3).ok().filter(|&n| n != 0)?;
    Some((number, (key & 0x7) as u8, after))
}

fn read_varint(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_len_field(out: &mut Vec<u8>, number: u32, value: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | u64::from(WIRE_LEN));
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::failure::v1::Failure;
    use temporalio_common::protos::temporal::api::history::v1::{
        ChildWorkflowExecutionFailedEventAttributes, History, HistoryEvent,
        history_event::Attributes,
    };
    use temporalio_common::protos::temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse;

    use super::*;

    /// A chain of `depth` frames, built and encoded without recursion so that tests can
    /// go far past what prost would decode.
    fn encoded_chain(depth: usize) -> Vec<u8> {
        let mut encoded = Vec::new();
        for level in (0..depth).rev() {
            let mut frame = Vec::new();
            put_len_field(
                &mut frame,
                FAILURE_MESSAGE_FIELD,
                format!("frame {level}").as_bytes(),
            );
            if !encoded.is_empty() {
                put_len_field(&mut frame, FAILURE_CAUSE_FIELD, &encoded);
            }
            encoded = frame;
        }
        encoded
    }

    /// A poll response whose history holds one child failure with the given chain,
    /// assembled by hand because prost cannot encode what it could not decode.
    fn poll_response(chain: &[u8]) -> Vec<u8> {
        let mut attributes = ChildWorkflowExecutionFailedEventAttributes {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "child".into(),
                run_id: "r".into(),
            }),
            ..Default::default()
        }
        .encode_to_vec();
        put_len_field(&mut attributes, CHILD_FAILED_FAILURE, chain);
        let mut event = HistoryEvent {
            event_id: 7,
            ..Default::default()
        }
        .encode_to_vec();
        put_len_field(&mut event, EVENT_CHILD_FAILED, &attributes);
        let mut history = Vec::new();
        put_len_field(&mut history, HISTORY_EVENTS, &event);
        let mut response = PollWorkflowTaskQueueResponse {
            task_token: b"token".to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        put_len_field(&mut response, POLL_RESPONSE_HISTORY, &history);
        response
    }

    /// Field numbers from the Temporal API's `.proto` files.
    const CHILD_FAILED_FAILURE: u32 = 1;
    const EVENT_CHILD_FAILED: u32 = 38;
    const HISTORY_EVENTS: u32 = 1;
    const POLL_RESPONSE_HISTORY: u32 = 8;

    fn chain_messages(failure: &Failure) -> Vec<String> {
        let mut messages = Vec::new();
        let mut next = Some(failure);
        while let Some(failure) = next {
            messages.push(failure.message.clone());
            next = failure.cause.as_deref();
        }
        messages
    }

    fn child_failure(response: &PollWorkflowTaskQueueResponse) -> &Failure {
        match &response.history.as_ref().unwrap().events[0].attributes {
            Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(child)) => {
                child.failure.as_ref().unwrap()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_response_without_deep_chains_is_passed_on_untouched() {
        let response = poll_response(&encoded_chain(MAX_FAILURE_CHAIN));
        assert_eq!(
            bound_response(
                "temporal.api.workflowservice.v1.WorkflowService",
                "PollWorkflowTaskQueue",
                &response
            ),
            None
        );
        let decoded = PollWorkflowTaskQueueResponse::decode(response.as_slice()).unwrap();
        assert_eq!(
            chain_messages(child_failure(&decoded)).len(),
            MAX_FAILURE_CHAIN
        );
    }

    #[test]
    fn a_chain_too_deep_for_prost_is_cut_to_one_that_decodes() {
        let response = poll_response(&encoded_chain(5000));
        assert!(
            PollWorkflowTaskQueueResponse::decode(response.as_slice()).is_err(),
            "the uncut response must be beyond prost"
        );
        let bounded = bound_response(
            "temporal.api.workflowservice.v1.WorkflowService",
            "PollWorkflowTaskQueue",
            &response,
        )
        .expect("cut");
        let decoded = PollWorkflowTaskQueueResponse::decode(bounded.as_slice()).unwrap();
        assert_eq!(decoded.task_token, b"token");
        let messages = chain_messages(child_failure(&decoded));
        assert_eq!(messages.len(), MAX_FAILURE_CHAIN);
        assert_eq!(messages[0], "frame 0");
        assert_eq!(messages[MAX_FAILURE_CHAIN - 3], "frame 29");
        assert_eq!(
            messages[MAX_FAILURE_CHAIN - 2],
            omitted_message(5000 - (MAX_FAILURE_CHAIN - 1), 5000)
        );
        assert_eq!(messages[MAX_FAILURE_CHAIN - 1], "frame 4999");
    }

    #[test]
    fn the_cut_is_the_same_one_wit_chains_get() {
        let mut frames: Vec<String> = (0..100).map(|i| format!("frame {i}")).collect();
        super::super::truncate_frames(&mut frames, |message| message);
        let bounded = bound_message(FAILURE, &encoded_chain(100)).expect("cut");
        assert_eq!(
            chain_messages(&Failure::decode(bounded.as_slice()).unwrap()),
            frames
        );
    }

    #[test]
    fn chains_exactly_one_frame_too_long_are_cut() {
        let bounded = bound_message(FAILURE, &encoded_chain(MAX_FAILURE_CHAIN + 1)).expect("cut");
        let messages = chain_messages(&Failure::decode(bounded.as_slice()).unwrap());
        assert_eq!(messages.len(), MAX_FAILURE_CHAIN);
        assert!(messages[MAX_FAILURE_CHAIN - 2].starts_with("2 more causes omitted"));
    }

    #[test]
    fn histories_are_walked_too() {
        let response = poll_response(&encoded_chain(300));
        let decoded_history = {
            // The history inside the poll response, as GetWorkflowExecutionHistory sends it.
            let bounded = bound_response(
                "temporal.api.workflowservice.v1.WorkflowService",
                "PollWorkflowTaskQueue",
                &response,
            )
            .unwrap();
            PollWorkflowTaskQueueResponse::decode(bounded.as_slice())
                .unwrap()
                .history
                .unwrap()
        };
        let mut history_bytes = Vec::new();
        for field in fields(&response) {
            let field = field.unwrap();
            if field.number == POLL_RESPONSE_HISTORY {
                history_bytes = response[field.value].to_vec();
            }
        }
        let bounded = bound_message("temporal.api.history.v1.History", &history_bytes).unwrap();
        assert_eq!(
            History::decode(bounded.as_slice()).unwrap(),
            decoded_history
        );
    }

    #[test]
    fn malformed_bytes_are_left_for_prost_to_reject() {
        for bytes in [&[0xff][..], &[0x0a, 0x05, 0x01], &[0x0b], &[0x08; 11]] {
            assert_eq!(bound_message(FAILURE, bytes), None, "{bytes:?}");
        }
    }

    #[test]
    fn unrelated_rpcs_are_not_walked() {
        assert_eq!(
            bound_response(
                "temporal.api.workflowservice.v1.WorkflowService",
                "GetSystemInfo",
                b"\x0a\x00"
            ),
            None
        );
    }

    /// `bytes` with an unknown group of `depth` nested groups appended, as another SDK's
    /// newer schema (or an attacker) could send and the server keeps.
    fn with_nested_group(mut bytes: Vec<u8>, depth: usize) -> Vec<u8> {
        for _ in 0..depth {
            put_varint(&mut bytes, (1000 << 3) | u64::from(WIRE_START_GROUP));
        }
        for _ in 0..depth {
            put_varint(&mut bytes, (1000 << 3) | u64::from(WIRE_END_GROUP));
        }
        bytes
    }

    #[test]
    fn groups_are_dropped_so_that_they_hide_nothing_from_the_cut() {
        // A group on the outermost frame of a deep chain: before, the walker gave up on
        // the frame and prost got the whole chain.
        let chain = with_nested_group(encoded_chain(1), 3);
        let mut outer = chain.clone();
        put_len_field(&mut outer, FAILURE_CAUSE_FIELD, &encoded_chain(500));
        let bounded = bound_message(FAILURE, &outer).expect("cut");
        assert_eq!(
            chain_messages(&Failure::decode(bounded.as_slice()).unwrap()).len(),
            MAX_FAILURE_CHAIN
        );
        // A group nested past prost's limit anywhere prost decodes.
        let deep_group = with_nested_group(encoded_chain(1), 200);
        assert!(Failure::decode(deep_group.as_slice()).is_err());
        let bounded = bound_message(FAILURE, &deep_group).expect("dropped");
        assert_eq!(
            chain_messages(&Failure::decode(bounded.as_slice()).unwrap()),
            ["frame 0"]
        );
    }

    #[test]
    fn repeated_causes_keep_only_the_last_and_cost_no_more_than_one_note() {
        let mut frame = Vec::new();
        put_len_field(&mut frame, FAILURE_MESSAGE_FIELD, b"outer");
        for _ in 0..1000 {
            put_len_field(&mut frame, FAILURE_CAUSE_FIELD, &encoded_chain(3));
        }
        let bounded = bound_message(FAILURE, &frame).expect("rewritten");
        assert!(bounded.len() < 200, "{} bytes", bounded.len());
        assert_eq!(
            Failure::decode(bounded.as_slice()).unwrap(),
            Failure::decode(frame.as_slice()).unwrap(),
            "prost merges the repeated causes of the original into the same chain"
        );
    }

    #[test]
    fn an_unterminated_group_is_left_for_prost_to_reject() {
        let mut bytes = encoded_chain(1);
        put_varint(&mut bytes, (7 << 3) | u64::from(WIRE_START_GROUP));
        assert_eq!(bound_message(FAILURE, &bytes), None);
        assert!(Failure::decode(bytes.as_slice()).is_err());
    }
}
