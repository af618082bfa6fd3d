//! RabbitMQ's dead-letter hand-off, written once for every back end: which routing key a
//! dead letter is republished with, and the cycle rule (a message's history of the queues it
//! died in since its last rejection; a dead letter that would reach one of them again is
//! dropped). Each back end keeps the history its own way — the simulator and the analytic
//! flows as a bit set, the broker as a list of queue ids — behind [`History`].

use super::Reason;

/// The queues a message died in since its last rejection.
pub trait History {
    /// How the history names a queue.
    type Queue: Copy;
    /// Forgets every queue (a rejection).
    fn clear(&mut self);
    /// Adds `queue`.
    fn insert(&mut self, queue: Self::Queue);
    /// Is `queue` in it?
    fn contains(&self, queue: Self::Queue) -> bool;
}

/// A bit set: queue `b` is bit `b` (the simulator numbers its dead-lettering queues 0..32).
impl History for u32 {
    type Queue = u8;
    fn clear(&mut self) {
        *self = 0;
    }
    fn insert(&mut self, queue: u8) {
        *self |= 1 << queue;
    }
    fn contains(&self, queue: u8) -> bool {
        *self >> queue & 1 == 1
    }
}

/// A list of queue ids.
impl History for Vec<usize> {
    type Queue = usize;
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn insert(&mut self, queue: usize) {
        if !self.as_slice().contains(&queue) {
            self.push(queue);
        }
    }
    fn contains(&self, queue: usize) -> bool {
        self.as_slice().contains(&queue)
    }
}

/// The routing key of a dead letter whose own key is `own`: the queue's
/// `dead_letter_routing_key` if it has one, and for a message rejected at its delivery limit
/// the queue's `delivery_limit_routing_key` first.
pub fn dead_letter_key<K: Copy>(
    reason: Reason,
    own: K,
    routing_key: Option<K>,
    limit_routing_key: Option<K>,
) -> K {
    match (reason, limit_routing_key) {
        (Reason::DeliveryLimit, Some(k)) => k,
        _ => routing_key.unwrap_or(own),
    }
}

/// RabbitMQ's cycle rule for a message that died in queue `from` for `reason`: updates its
/// history (a rejection clears it, any other death adds `from`) and says whether it may be
/// republished to `targets` (`false`: one of them is in its history, and the dead letter is
/// dropped instead, and counted). A target the history cannot name is `None` (never in it).
pub fn pass_on<H: History>(
    history: &mut H,
    from: H::Queue,
    reason: Reason,
    targets: impl IntoIterator<Item = Option<H::Queue>>,
) -> bool {
    if matches!(reason, Reason::Rejected | Reason::DeliveryLimit) {
        history.clear();
    } else {
        history.insert(from);
    }
    !targets.into_iter().flatten().any(|t| history.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_clears_the_history_and_other_deaths_close_cycles() {
        let mut h = 0u32;
        // Expired in 0, then in 1: back to 0 is a cycle, to 2 is not.
        assert!(pass_on(&mut h, 0, Reason::Expired, [Some(1)]));
        assert!(!pass_on(&mut h, 1, Reason::Expired, [Some(2), Some(0)]));
        assert!(pass_on(&mut h.clone(), 1, Reason::Maxlen, [Some(2), None]));
        // A rejection in between lets it go round again.
        assert!(pass_on(&mut h, 1, Reason::Rejected, [Some(0)]));
        assert_eq!(h, 0);
        let mut v: Vec<usize> = Vec::new();
        assert!(pass_on(&mut v, 7, Reason::Expired, [Some(3)]));
        assert!(!pass_on(&mut v, 3, Reason::Maxlen, [Some(7)]));
        assert_eq!(v, [7, 3]);
        assert!(pass_on(&mut v, 3, Reason::DeliveryLimit, [Some(7)]));
        assert!(v.is_empty());
    }

    #[test]
    fn the_limit_key_applies_only_at_the_delivery_limit() {
        assert_eq!(dead_letter_key(Reason::DeliveryLimit, "own", Some("dl"), Some("park")), "park");
        assert_eq!(dead_letter_key(Reason::Rejected, "own", Some("dl"), Some("park")), "dl");
        assert_eq!(dead_letter_key(Reason::Expired, "own", None, Some("park")), "own");
        assert_eq!(dead_letter_key(Reason::DeliveryLimit, "own", None, None), "own");
    }
}
