//! The core against a reference model written another way (the line as join stamps, ready
//! as a sorted vector), over random operation sequences, with the balance law after every
//! step; and the RabbitMQ rules the reference encodes, one named test each.

use super::*;
use proptest::prelude::*;

/// Records what the core tells an observer.
#[derive(Default)]
struct Log {
    delivered: Vec<(ConsumerId, u32, bool)>,
    dropped: Vec<u32>,
    rejected: Vec<u32>,
    expired: Vec<u32>,
    ready: Option<usize>,
}

impl Observer<u32> for Log {
    fn ready_changed(&mut self, _now: f64, ready: usize) {
        self.ready = Some(ready);
    }
    fn delivered(&mut self, _now: f64, consumer: ConsumerId, held: &Held<u32>) {
        self.delivered.push((consumer, held.entry.msg, held.entry.redelivered));
    }
    fn died(&mut self, _now: f64, entry: Entry<u32>, reason: Reason) {
        match reason {
            Reason::Maxlen | Reason::Refused => self.dropped.push(entry.msg),
            Reason::Rejected | Reason::DeliveryLimit => self.rejected.push(entry.msg),
            Reason::Expired => self.expired.push(entry.msg),
        }
    }
}

fn queue(max_length: Option<u64>, overflow: Overflow) -> Queue<u32> {
    Queue::new(QueueConfig { max_length, overflow, ..QueueConfig::default() })
}

fn ready_ids(q: &Queue<u32>) -> Vec<u32> {
    q.ready().map(|e| e.msg).collect()
}

fn held_ids(q: &Queue<u32>, c: ConsumerId) -> Vec<u32> {
    q.held(c).map(|h| h.entry.msg).collect()
}

#[test]
fn reject_publish_with_max_length_zero_refuses_even_with_an_idle_consumer() {
    // Regression: mqsim used to hand the message to the idle consumer first. RabbitMQ checks
    // the limit before delivering, so every publish is refused.
    let mut q = queue(Some(0), Overflow::RejectPublish);
    let mut log = Log::default();
    q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    for i in 0..3 {
        assert_eq!(q.publish(0.0, i, &mut log), Admission::Refused);
    }
    assert_eq!(log.dropped, [0, 1, 2]);
    assert!(log.delivered.is_empty());
    assert_eq!((q.counters().offered, q.counters().dropped), (3, 3));
    assert!(q.balanced());
}

#[test]
fn drop_head_with_max_length_zero_delivers_to_a_consumer_with_room_only() {
    let mut q = queue(Some(0), Overflow::DropHead);
    let mut log = Log::default();
    let c = q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    assert_eq!(q.publish(0.0, 0, &mut log), Admission::Delivered(c));
    assert_eq!(q.publish(0.0, 1, &mut log), Admission::DroppedHead, "consumer full");
    assert_eq!(log.dropped, [1]);
    assert!(q.balanced());
}

#[test]
fn a_full_consumer_rejoins_the_line_at_the_back() {
    let mut q = queue(None, Overflow::DropHead);
    let mut log = Log::default();
    let a = q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    let b = q.add_consumer(0.0, 2, Ack::Manual, &mut log);
    let c = q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    for i in 0..6 {
        q.publish(0.0, i, &mut log);
    }
    // a takes 0 and leaves the line, b takes 1 and goes to the back, c takes 2 and leaves,
    // b takes 3 and leaves; 4 and 5 wait.
    assert_eq!(
        log.delivered.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
        [(a, 0), (b, 1), (c, 2), (b, 3)]
    );
    assert_eq!(ready_ids(&q), [4, 5]);
    // c acks first, so c rejoins first and gets 4; then a gets 5.
    let tag_c = q.front_held(c).unwrap().tag;
    q.ack(0.0, c, tag_c, &mut log);
    let tag_a = q.front_held(a).unwrap().tag;
    q.ack(0.0, a, tag_a, &mut log);
    assert_eq!(&log.delivered[4..], [(c, 4, false), (a, 5, false)]);
    assert!(q.balanced());
}

#[test]
fn messages_nacked_one_at_a_time_go_back_in_their_original_order() {
    let mut q = queue(None, Overflow::DropHead);
    let mut log = Log::default();
    let c = q.add_consumer(0.0, 3, Ack::Manual, &mut log);
    for i in 0..5 {
        q.publish(0.0, i, &mut log);
    }
    assert_eq!(held_ids(&q, c), [0, 1, 2]);
    // The consumer is stopped from taking more while we nack, so the order is visible.
    q.set_dispatching(0.0, false, &mut log);
    let tags: Vec<Tag> = q.held(c).map(|h| h.tag).collect();
    for &t in tags.iter().rev() {
        assert!(q.nack(0.0, c, t, true, &mut log));
    }
    assert_eq!(ready_ids(&q), [0, 1, 2, 3, 4], "back at their original positions");
    assert!(q.ready.iter().take(3).all(|e| e.redelivered));
    q.set_dispatching(0.0, true, &mut log);
    assert_eq!(held_ids(&q, c), [0, 1, 2]);
    assert_eq!(q.counters().redelivered, 3);
    assert!(q.balanced());
}

#[test]
fn a_requeue_that_overfills_a_drop_head_queue_drops_from_the_head() {
    let mut q = queue(Some(2), Overflow::DropHead);
    let mut log = Log::default();
    let c = q.add_consumer(0.0, 2, Ack::Manual, &mut log);
    for i in 0..4 {
        q.publish(0.0, i, &mut log);
    }
    assert_eq!((held_ids(&q, c), ready_ids(&q)), (vec![0, 1], vec![2, 3]));
    assert!(q.remove_consumer(0.0, c, &mut log));
    // 0 and 1 come back ahead of 2 and 3; the queue holds 2, so the two oldest go.
    assert_eq!(ready_ids(&q), [2, 3]);
    assert_eq!(log.dropped, [0, 1]);
    assert_eq!(log.ready, Some(2));
    assert!(q.balanced());

    // reject-publish keeps requeued messages over the limit: they were accepted already.
    let mut r = queue(Some(2), Overflow::RejectPublish);
    let c = r.add_consumer(0.0, 2, Ack::Manual, &mut NoObserver);
    for i in 0..5 {
        r.publish(0.0, i, &mut NoObserver);
    }
    assert_eq!(r.counters().dropped, 1);
    r.remove_consumer(0.0, c, &mut NoObserver);
    assert_eq!(ready_ids(&r), [0, 1, 2, 3]);
    assert!(r.balanced());
}

#[test]
fn an_auto_ack_consumer_holds_its_deliveries_in_flight_until_done() {
    let mut q = queue(None, Overflow::DropHead);
    let c = q.add_consumer(0.0, 1, Ack::Auto, &mut NoObserver);
    for i in 0..4 {
        assert_eq!(q.publish(0.0, i, &mut NoObserver), Admission::Delivered(c));
    }
    assert_eq!((q.held_len(), q.in_flight(), q.counters().acked), (4, 4, 0));
    let t = q.front_held(c).unwrap().tag;
    assert_eq!(q.ack(0.0, c, t, &mut NoObserver).map(|e| e.msg), Some(0));
    // Removed: settled on delivery as far as RabbitMQ is concerned, so not requeued.
    q.remove_consumer(0.0, c, &mut NoObserver);
    assert_eq!((q.ready_len(), q.in_flight(), q.counters().acked), (0, 0, 4));
    assert!(q.balanced());
}

#[test]
fn settling_an_unknown_tag_or_consumer_changes_nothing() {
    let mut q = queue(None, Overflow::DropHead);
    let c = q.add_consumer(0.0, 1, Ack::Manual, &mut NoObserver);
    q.publish(0.0, 7, &mut NoObserver);
    let before = q.counters();
    assert!(q.ack(0.0, c, 999, &mut NoObserver).is_none());
    assert!(!q.nack(0.0, c + 1, 1, true, &mut NoObserver));
    assert!(!q.remove_consumer(0.0, c + 5, &mut NoObserver));
    assert_eq!(q.counters(), before);
}

// ---------------------------------------------------------------------------------------
// The reference model.

fn config(f: impl FnOnce(&mut QueueConfig)) -> Queue<u32> {
    let mut c = QueueConfig::default();
    f(&mut c);
    Queue::new(c)
}

fn props(ttl: Option<f64>, priority: u8) -> Props {
    Props { ttl, priority, deliveries: 0 }
}

#[test]
fn the_highest_priority_goes_first_fifo_within_a_priority_capped_at_the_maximum() {
    let mut q = config(|c| c.max_priority = Some(5));
    let mut log = Log::default();
    for (id, p) in [(0, 1), (1, 9), (2, 0), (3, 5), (4, 1)] {
        q.publish_with(0.0, id, props(None, p), &mut log);
    }
    // 9 counts as 5 and arrived before 3: FIFO among the two fives.
    assert_eq!(ready_ids(&q), [1, 3, 0, 4, 2]);
    let c = q.add_consumer(0.0, 2, Ack::Manual, &mut log);
    assert_eq!(held_ids(&q, c), [1, 3]);
    // Prefetched messages are not reordered by a later, higher priority.
    q.publish_with(0.0, 5, props(None, 5), &mut log);
    assert_eq!(held_ids(&q, c), [1, 3]);
    assert_eq!(ready_ids(&q), [5, 0, 4, 2]);
}

#[test]
fn per_message_ttl_expires_only_at_the_head() {
    let mut q = config(|_| {});
    let mut log = Log::default();
    q.publish_with(0.0, 0, props(Some(10.0), 0), &mut log);
    q.publish_with(0.0, 1, props(Some(1.0), 0), &mut log);
    assert_eq!(q.next_expiry(), Some(10.0), "only the head's expiry counts");
    assert_eq!(q.expire(5.0, &mut log), 0, "message 1 is past its TTL but not at the head");
    assert_eq!(q.expire(10.0, &mut log), 2, "then both go");
    assert_eq!(log.expired, [0, 1]);
    assert!(q.balanced());
}

#[test]
fn the_smaller_ttl_applies_and_a_requeued_message_keeps_its_expiry() {
    let mut q = config(|c| c.message_ttl = Some(4.0));
    let mut log = Log::default();
    let c = q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    q.publish_with(0.0, 0, props(Some(9.0), 0), &mut log);
    q.publish_with(1.0, 1, props(Some(2.0), 0), &mut log);
    assert_eq!(q.next_expiry(), Some(3.0));
    assert_eq!(q.expire(3.0, &mut log), 1);
    assert_eq!(log.expired, [1]);
    // Message 0 (expiry 4) is requeued at 3.5 and is past its expiry at 4: it never comes
    // back to a consumer.
    q.remove_consumer(3.5, c, &mut log);
    assert_eq!(q.next_expiry(), Some(4.0));
    q.add_consumer(4.0, 1, Ack::Manual, &mut log);
    assert_eq!(log.expired, [1, 0]);
    assert_eq!(log.delivered.len(), 1);
    assert!(q.balanced());
}

#[test]
fn a_message_at_its_delivery_limit_is_rejected_instead_of_requeued() {
    let mut q = config(|c| c.delivery_limit = Some(2));
    let mut log = Log::default();
    let c = q.add_consumer(0.0, 1, Ack::Manual, &mut log);
    q.publish(0.0, 7, &mut log);
    assert!(q.nack_oldest(0.0, c, true, &mut log), "first delivery: requeued");
    assert_eq!(q.counters().redelivered, 1);
    assert!(q.nack_oldest(0.0, c, true, &mut log), "second delivery: at the limit");
    assert_eq!(log.rejected, [7]);
    assert_eq!((q.counters().delivered, q.counters().rejected), (2, 1));
    assert!(q.balanced());
}

#[test]
fn reject_publish_dlx_refuses_and_dead_letters_while_reject_publish_does_not() {
    #[derive(Default)]
    struct Reasons(Vec<Reason>);
    impl Observer<u32> for Reasons {
        fn died(&mut self, _now: f64, _e: Entry<u32>, reason: Reason) {
            self.0.push(reason);
        }
    }
    for (overflow, reason) in
        [(Overflow::RejectPublishDlx, Reason::Maxlen), (Overflow::RejectPublish, Reason::Refused)]
    {
        let mut q = queue(Some(1), overflow);
        let mut r = Reasons::default();
        q.publish(0.0, 0, &mut r);
        assert_eq!(q.publish(0.0, 1, &mut r), Admission::Refused);
        assert_eq!(r.0, [reason]);
        assert_eq!(reason.dead_letters(), overflow == Overflow::RejectPublishDlx);
    }
}

#[derive(Debug, Clone, PartialEq)]
struct RefMsg {
    id: u32,
    seq: u64,
    redelivered: bool,
    priority: u8,
    deliveries: u32,
    expires: f64,
}

#[derive(Debug, Clone)]
struct RefConsumer {
    prefetch: u32,
    auto: bool,
    held: Vec<(Tag, RefMsg)>,
    /// When it last joined the line; `None` while it is out of it.
    joined: Option<u64>,
}

impl RefConsumer {
    fn room(&self) -> bool {
        self.auto || self.prefetch == 0 || self.held.len() < self.prefetch as usize
    }
}

/// The same rules written another way: ready messages in one flat vector, searched for the
/// next one to deliver (highest priority, then lowest arrival number), the line as join
/// stamps.
#[derive(Debug, Default)]
struct Reference {
    max_length: Option<u64>,
    overflow: Option<Overflow>,
    ttl: Option<f64>,
    max_priority: Option<u8>,
    delivery_limit: Option<u32>,
    ready: Vec<RefMsg>,
    consumers: Vec<Option<RefConsumer>>,
    stamp: u64,
    next_seq: u64,
    next_tag: Tag,
    counts: Counters,
}

impl Reference {
    fn overflow(&self) -> Overflow {
        self.overflow.unwrap_or(Overflow::DropHead)
    }

    fn stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// The consumer in the line that joined it first.
    fn first_in_line(&self) -> Option<usize> {
        (0..self.consumers.len())
            .filter_map(|i| self.consumers[i].as_ref().and_then(|c| c.joined).map(|j| (j, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// Index of the next ready message to deliver.
    fn next(&self) -> Option<usize> {
        (0..self.ready.len()).min_by_key(|&i| (u8::MAX - self.ready[i].priority, self.ready[i].seq))
    }

    /// Index of the head of priority `p` (the oldest ready message of that priority).
    fn head_of(&self, p: u8) -> Option<usize> {
        (0..self.ready.len())
            .filter(|&i| self.ready[i].priority == p)
            .min_by_key(|&i| self.ready[i].seq)
    }

    fn expire_heads(&mut self, now: f64) {
        loop {
            let due = (0..=u8::MAX)
                .filter_map(|p| self.head_of(p))
                .find(|&i| self.ready[i].expires <= now);
            let Some(i) = due else { return };
            self.ready.remove(i);
            self.counts.expired += 1;
        }
    }

    fn deliver(&mut self, mut m: RefMsg) {
        let i = self.first_in_line().unwrap();
        self.next_tag += 1;
        let tag = self.next_tag;
        self.counts.delivered += 1;
        if m.redelivered {
            self.counts.redelivered += 1;
        }
        m.deliveries += 1;
        let s = self.stamp();
        let c = self.consumers[i].as_mut().unwrap();
        c.held.push((tag, m));
        c.joined = if c.room() { Some(s) } else { None };
    }

    fn dispatch(&mut self, now: f64) {
        while self.first_in_line().is_some() {
            let Some(i) = self.next() else { break };
            let m = self.ready.remove(i);
            if m.expires <= now {
                self.counts.expired += 1;
            } else {
                self.deliver(m);
            }
        }
    }

    fn publish(&mut self, now: f64, id: u32, ttl: Option<f64>, priority: u8) {
        self.expire_heads(now);
        self.counts.offered += 1;
        let ttl = match (ttl, self.ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let priority = self.max_priority.map_or(0, |m| priority.min(m));
        let expires = ttl.map_or(f64::INFINITY, |t| now + t);
        let m =
            RefMsg { id, seq: self.next_seq, redelivered: false, priority, deliveries: 0, expires };
        self.next_seq += 1;
        let refuse_all = self.overflow() != Overflow::DropHead && self.max_length == Some(0);
        if self.ready.is_empty() && self.first_in_line().is_some() && !refuse_all {
            self.deliver(m);
            return;
        }
        if expires <= now {
            self.counts.expired += 1;
            return;
        }
        let full = self.max_length.is_some_and(|l| self.ready.len() as u64 >= l);
        if full && self.overflow() != Overflow::DropHead {
            self.counts.dropped += 1;
        } else {
            if full {
                self.counts.dropped += 1;
                match self.next() {
                    Some(i) => {
                        self.ready.remove(i);
                    }
                    None => return,
                }
            }
            self.ready.push(m);
        }
    }

    fn at_limit(&self, m: &RefMsg) -> bool {
        self.delivery_limit.is_some_and(|l| m.deliveries >= l)
    }

    fn requeue(&mut self, mut m: RefMsg) {
        if self.at_limit(&m) {
            self.counts.rejected += 1;
            return;
        }
        m.redelivered = true;
        self.ready.push(m);
    }

    fn trim(&mut self) {
        if self.overflow() == Overflow::DropHead
            && let Some(l) = self.max_length
        {
            while self.ready.len() as u64 > l {
                let i = self.next().unwrap();
                self.ready.remove(i);
                self.counts.dropped += 1;
            }
        }
    }

    fn add(&mut self, now: f64, prefetch: u32, auto: bool) -> usize {
        let s = self.stamp();
        let c = RefConsumer { prefetch, auto, held: Vec::new(), joined: Some(s) };
        let i = match self.consumers.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.consumers.push(None);
                self.consumers.len() - 1
            }
        };
        self.consumers[i] = Some(c);
        self.dispatch(now);
        i
    }

    fn remove(&mut self, now: f64, i: usize) {
        let Some(c) = self.consumers.get_mut(i).and_then(Option::take) else { return };
        if c.auto {
            self.counts.acked += c.held.len() as u64;
        } else if !c.held.is_empty() {
            for (_, m) in c.held {
                self.requeue(m);
            }
            self.trim();
        }
        self.dispatch(now);
    }

    fn settle(&mut self, now: f64, i: usize, nth: usize, outcome: Option<bool>) {
        let Some(c) = self.consumers.get_mut(i).and_then(Option::as_mut) else { return };
        if c.held.is_empty() {
            return;
        }
        let (_, m) = c.held.remove(nth % c.held.len());
        let regained = c.joined.is_none() && c.room();
        match outcome {
            None => self.counts.acked += 1,
            Some(false) => self.counts.rejected += 1,
            Some(true) => {
                self.requeue(m);
                self.trim();
            }
        }
        if regained {
            let s = self.stamp();
            self.consumers[i].as_mut().unwrap().joined = Some(s);
        }
        self.dispatch(now);
    }

    /// Ready messages in delivery order.
    fn ready_order(&self) -> Vec<(u32, bool)> {
        let mut r: Vec<&RefMsg> = self.ready.iter().collect();
        r.sort_by_key(|m| (u8::MAX - m.priority, m.seq));
        r.iter().map(|m| (m.id, m.redelivered)).collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Publish { ttl: Option<u8>, priority: u8 },
    Add { prefetch: u32, auto: bool },
    Remove(usize),
    Ack(usize, usize),
    Nack(usize, usize, bool),
    Advance,
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::option::weighted(0.3, 0u8..4), 0u8..5).prop_map(|(ttl, priority)| Op::Publish { ttl, priority }),
        1 => (0u32..4, prop::bool::weighted(0.2)).prop_map(|(prefetch, auto)| Op::Add { prefetch, auto }),
        1 => (0usize..5).prop_map(Op::Remove),
        4 => (0usize..5, 0usize..4).prop_map(|(c, n)| Op::Ack(c, n)),
        2 => (0usize..5, 0usize..4, any::<bool>()).prop_map(|(c, n, r)| Op::Nack(c, n, r)),
        2 => Just(Op::Advance),
        1 => Just(Op::Expire),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_core_matches_the_reference_and_balances_after_every_step(
        max_length in prop::option::of(0u64..4),
        overflow in prop_oneof![Just(Overflow::DropHead), Just(Overflow::RejectPublish), Just(Overflow::RejectPublishDlx)],
        ttl in prop::option::weighted(0.3, 0u8..5),
        max_priority in prop::option::weighted(0.3, 1u8..4),
        delivery_limit in prop::option::weighted(0.3, 1u32..4),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let ttl = ttl.map(f64::from);
        let config = QueueConfig { max_length, overflow, message_ttl: ttl, max_priority, delivery_limit };
        let mut core: Queue<u32> = Queue::new(config);
        // The lifecycle-free core (`X = ()`, what the simulator runs first-edition scenarios
        // on) must do exactly what the full one does while no lifecycle feature is used.
        let mut plain: Option<Queue<u32, ()>> =
            (ttl.is_none() && max_priority.is_none() && delivery_limit.is_none()).then(|| Queue::new(config));
        let mut reference = Reference {
            max_length, overflow: Some(overflow), ttl, max_priority, delivery_limit,
            ..Reference::default()
        };
        let mut next_id = 0;
        let mut now = 0.0;
        for op in ops {
            match op {
                Op::Publish { ttl, priority } => {
                    let ttl = ttl.map(f64::from);
                    let props = Props { ttl, priority, deliveries: 0 };
                    core.publish_with(now, next_id, props, &mut NoObserver);
                    if ttl.is_some() {
                        plain = None;
                    }
                    if let Some(p) = plain.as_mut() {
                        p.publish_with(now, next_id, props, &mut NoObserver);
                    }
                    reference.publish(now, next_id, ttl, priority);
                    next_id += 1;
                }
                Op::Add { prefetch, auto } => {
                    let ack = if auto { Ack::Auto } else { Ack::Manual };
                    let a = core.add_consumer(now, prefetch, ack, &mut NoObserver);
                    if let Some(p) = plain.as_mut() {
                        prop_assert_eq!(p.add_consumer(now, prefetch, ack, &mut NoObserver), a);
                    }
                    prop_assert_eq!(a, reference.add(now, prefetch, auto));
                }
                Op::Remove(c) => {
                    core.remove_consumer(now, c, &mut NoObserver);
                    if let Some(p) = plain.as_mut() {
                        p.remove_consumer(now, c, &mut NoObserver);
                    }
                    reference.remove(now, c);
                }
                Op::Ack(c, n) | Op::Nack(c, n, _) => {
                    let outcome = match op { Op::Nack(_, _, r) => Some(r), _ => None };
                    let held: Vec<Tag> = core.held(c).map(|h| h.tag).collect();
                    if !held.is_empty() {
                        let tag = held[n % held.len()];
                        match outcome {
                            None => { core.ack(now, c, tag, &mut NoObserver); }
                            Some(r) => { core.nack(now, c, tag, r, &mut NoObserver); }
                        }
                        if let Some(p) = plain.as_mut() {
                            match outcome {
                                None => { p.ack(now, c, tag, &mut NoObserver); }
                                Some(r) => { p.nack(now, c, tag, r, &mut NoObserver); }
                            }
                        }
                    }
                    reference.settle(now, c, n, outcome);
                }
                Op::Advance => now += 1.0,
                Op::Expire => {
                    core.expire(now, &mut NoObserver);
                    if let Some(p) = plain.as_mut() {
                        prop_assert_eq!(p.expire(now, &mut NoObserver), 0);
                    }
                    reference.expire_heads(now);
                }
            }
            prop_assert!(core.balanced(), "unbalanced: {:?}", core.counters());
            if let Some(p) = &plain {
                prop_assert_eq!(p.counters(), core.counters());
                let a: Vec<(u32, u64, bool)> = p.ready().map(|e| (e.msg, e.seq, e.redelivered)).collect();
                let b: Vec<(u32, u64, bool)> = core.ready().map(|e| (e.msg, e.seq, e.redelivered)).collect();
                prop_assert_eq!(a, b);
                for c in 0..8 {
                    let a: Vec<(Tag, u32)> = p.held(c).map(|h| (h.tag, h.entry.msg)).collect();
                    let b: Vec<(Tag, u32)> = core.held(c).map(|h| (h.tag, h.entry.msg)).collect();
                    prop_assert_eq!(a, b, "plain consumer {}", c);
                }
                prop_assert_eq!(p.next_expiry(), None);
            }
            prop_assert_eq!(core.counters(), reference.counts);
            let ready: Vec<(u32, bool)> = core.ready().map(|e| (e.msg, e.redelivered)).collect();
            prop_assert_eq!(ready, reference.ready_order());
            for (i, rc) in reference.consumers.iter().enumerate() {
                let got: Vec<(Tag, u32)> = core.held(i).map(|h| (h.tag, h.entry.msg)).collect();
                let want: Vec<(Tag, u32)> = rc.iter().flat_map(|c| c.held.iter().map(|(t, m)| (*t, m.id))).collect();
                prop_assert_eq!(got, want, "consumer {}", i);
            }
            // The invariant the fast paths rely on.
            prop_assert!(core.ready_len() == 0 || core.line.is_empty());
            // No delivered message was past its expiry when delivered: held ones only
            // expire if they are requeued later, so check the ready side's earliest head.
            if let Some(t) = core.next_expiry() {
                prop_assert!(t.is_finite());
            }
        }
    }
}

/// A drained backlog's memory is given back once nothing is ready (and not before: a
/// queue with messages keeps its buffer), and the queue works on as before.
#[test]
fn a_drained_backlog_gives_its_memory_back() {
    let mut q = queue(None, Overflow::DropHead);
    let mut log = Log::default();
    for i in 0..20_000 {
        q.publish(0.0, i, &mut log);
    }
    assert!(q.ready_capacity() >= 20_000);
    let c = q.add_consumer(0.0, 0, Ack::Auto, &mut log);
    q.release_idle_memory();
    assert_eq!(q.ready_len(), 0);
    assert_eq!(log.delivered.len(), 20_000, "auto ack: all delivered to {c:?}");
    q.release_idle_memory();
    assert!(q.ready_capacity() <= 4096, "{}", q.ready_capacity());
    // A backlog that is still there keeps its buffer.
    let mut q2 = queue(None, Overflow::DropHead);
    for i in 0..20_000 {
        q2.publish(0.0, i, &mut log);
    }
    q2.release_idle_memory();
    assert!(q2.ready_capacity() >= 20_000 && q2.ready_len() == 20_000);
    q.publish(1.0, 7, &mut log);
    assert_eq!(log.delivered.last().map(|d| d.1), Some(7));
    assert!(q.balanced() && q2.balanced());
    // The same for a priority's own deque.
    let mut p = config(|c| c.max_priority = Some(5));
    for i in 0..20_000 {
        p.publish_with(0.0, i, props(None, 3), &mut log);
    }
    assert!(p.ready_capacity() >= 20_000);
    p.add_consumer(0.0, 0, Ack::Auto, &mut log);
    p.release_idle_memory();
    assert!(p.ready_len() == 0 && p.ready_capacity() <= 4096, "{}", p.ready_capacity());
    assert!(p.balanced());
}
