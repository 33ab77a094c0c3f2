//! How deep a failure chain may be, wherever one crosses into or out of the worker.
//!
//! Temporal nests a failure's causes (`Failure.cause`) and bounds the nesting nowhere: a
//! workflow may fail with thousands of causes, and the server stores them. Past 100
//! levels of nesting prost refuses to decode the message that carries the chain (a poll
//! response becomes undecodable and its workflow is never activated again), and core's
//! workflow thread recurses once per level on the way out (a few thousand overflow its
//! stack and abort the process). So every chain is cut to [`MAX_FAILURE_CHAIN`] frames at
//! both edges, the same way:
//!
//! - what a guest sends (a workflow's failure, a query's or an update's, a task failure),
//!   in the sandbox's output checks, on WIT records;
//! - what the server sends (a child's or an activity's failure written by another SDK, a
//!   previous run's failure), in the connection, on the wire bytes before prost decodes
//!   them ([`wire`]); histories read from JSON go through the same cut.
//!
//! A cut chain keeps its outermost frames (where the failure surfaced), then one frame
//! saying how many were left out, then the root cause (what went wrong first).

pub(crate) mod wire;

/// Most frames a failure chain keeps: the outermost `MAX_FAILURE_CHAIN - 2`, a frame
/// naming what was left out, and the root cause. Far below prost's 100 levels, so a
/// chain that a workflow wraps a few more times still decodes everywhere.
pub const MAX_FAILURE_CHAIN: usize = 32;

/// The source Temporal shows for failures Sandglass itself raises or writes: a
/// workflow's or activity's, and the frame that stands in for the causes left out.
pub const FAILURE_SOURCE: &str = "Sandglass";

/// The message of the frame that stands in for `omitted` causes of a chain `depth` deep.
pub(crate) fn omitted_message(omitted: usize, depth: usize) -> String {
    format!(
        "{omitted} more causes omitted: the failure chain was {depth} deep, more than the \
         {MAX_FAILURE_CHAIN} frames Sandglass passes on; the root cause follows"
    )
}

/// Cuts a chain of WIT frames (outermost first) to [`MAX_FAILURE_CHAIN`], as described
/// above. Returns how many frames it left out.
pub(crate) fn truncate_frames<F>(
    frames: &mut Vec<F>,
    omitted_frame: impl FnOnce(String) -> F,
) -> usize {
    let depth = frames.len();
    if depth <= MAX_FAILURE_CHAIN {
        return 0;
    }
    let kept = MAX_FAILURE_CHAIN - 2;
    let omitted = depth - kept - 1;
    let root = frames.pop();
    frames.truncate(kept);
    frames.push(omitted_frame(omitted_message(omitted, depth)));
    frames.extend(root);
    omitted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_chains_are_untouched() {
        let mut frames: Vec<usize> = (0..MAX_FAILURE_CHAIN).collect();
        assert_eq!(truncate_frames(&mut frames, |_| usize::MAX), 0);
        assert_eq!(frames.len(), MAX_FAILURE_CHAIN);
    }

    #[test]
    fn long_chains_keep_the_outermost_frames_a_note_and_the_root() {
        let mut frames: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let omitted = truncate_frames(&mut frames, |message| message);
        assert_eq!(frames.len(), MAX_FAILURE_CHAIN);
        assert_eq!(omitted, 1000 - (MAX_FAILURE_CHAIN - 1));
        assert_eq!(frames[0], "0");
        assert_eq!(
            frames[MAX_FAILURE_CHAIN - 3],
            (MAX_FAILURE_CHAIN - 3).to_string()
        );
        assert!(
            frames[MAX_FAILURE_CHAIN - 2]
                .starts_with("969 more causes omitted: the failure chain was 1000 deep"),
            "{}",
            frames[MAX_FAILURE_CHAIN - 2]
        );
        assert_eq!(frames[MAX_FAILURE_CHAIN - 1], "999");
    }
}
