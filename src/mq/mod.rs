//! The messaging core: what one queue does with a message, written once and used by both
//! the simulator (`crate::sim`, scenario time, one thread) and the in-crate broker
//! (`crate::broker`, real time, behind the queue's lock).
//!
//! A [`Queue`] owns the ready messages, the consumers with their delivered and unsettled
//! messages, the dispatch rule, prefetch room, admission and overflow, ack / nack / requeue,
//! consumer removal with requeue of its unsettled messages, and the counters with the
//! balance law. It never reads a clock (every operation is told `now`, in seconds on the
//! back end's own clock), never blocks, never allocates per message beyond its deques, and
//! knows nothing of statistics: everything a back end wants to watch or act on (a delivery
//! to start a service or wake a thread, a ready-length change to integrate) reaches it
//! through the [`Observer`] trait, whose methods all default to doing nothing.
//!
//! # Where a new queue feature goes
//! A rule about what a queue does with a message (expiry, dead-letter hand-off, priorities,
//! delivery limits) is a method or a branch here, with a counter in [`Counters`] if it ends
//! a message's life, and a hook on [`Observer`] if a back end must react. The simulator and
//! the broker then get it at once; `tests` here check it against a reference model.

pub mod dead_letter;
mod held;
pub mod log;
mod queue;
mod ready;

pub use queue::{
    Ack, Admission, ConsumerId, Counters, Entry, Held, Life, Lifecycle, NoObserver, Observer,
    Overflow, Props, Queue, QueueConfig, Reason, Tag,
};
