//! Kafka-style topics: the partitioned log, written once for the simulator and the broker.
//!
//! This module owns every rule of a topic: Kafka's default partitioner ([`murmur2`],
//! [`partition_for_key`], round-robin for records without a key: [`RoundRobin`]), the
//! group assignors as Kafka computes them ([`assign`]: range, round-robin,
//! cooperative-sticky), and [`TopicLog`]: the partitions, each group's offsets on each
//! partition, which consumer owns which partition, polls of up to `max_poll_records`,
//! in-order processing within a partition, rebalances when a member leaves or comes back
//! (eager assignors pause the whole group, cooperative-sticky only the moved partitions),
//! the lag and the counts with their balance law (per group
//! `offered = acked + in_flight`).
//!
//! Like [`super::Queue`] it never reads a clock (every operation is told `now`), never
//! blocks and prints nothing.
//!
//! # How a consumer takes records
//! An idle consumer first serves the records left from its last poll, in order. With none
//! left it polls: it visits its partitions in a rotating order (each poll starts one
//! partition further along its sorted list, as Kafka's fetcher rotates the partitions it
//! fetches so none starves) and takes every available record of each partition in turn
//! until it has `max_poll_records`. A partition is skipped while it is paused by a
//! rebalance, or while a record of it is still being processed by its previous owner
//! (records of one partition are processed in order, one at a time).

use std::collections::VecDeque;

/// Kafka's `Utils.murmur2`: MurmurHash2 (32 bit) with seed `0x9747b28c`, as Kafka's
/// default partitioner applies it to a record's serialized key. Returns Java's `int`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ length as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's switch falls through from 3 to 1: the bytes are masked to 0..=255 first.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: `x & 0x7fffffff` (not `abs`, which overflows).
pub fn to_positive(x: i32) -> u32 {
    (x & 0x7fff_ffff) as u32
}

/// The partition Kafka's default partitioner gives a keyed record:
/// `toPositive(murmur2(key)) % partitions`. `partitions` must be at least 1.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    to_positive(murmur2(key)) % partitions
}

/// The key of index `i` in a scenario's key space: `key-0`, `key-1`, ….
pub fn key_name(i: u64) -> String {
    format!("key-{i}")
}

/// The partition of every key `key-0` … `key-(count − 1)`, by [`partition_for_key`].
pub fn key_partitions(count: u64, partitions: u32) -> Vec<u32> {
    (0..count).map(|i| partition_for_key(key_name(i).as_bytes(), partitions)).collect()
}

/// Records without a key go round-robin over the partitions, one producer's counter, as
/// Kafka's `RoundRobinPartitioner` does (`toPositive(counter++) % partitions`). (Kafka's
/// default since 2.4 is the "sticky" partitioner, which fills a batch per partition before
/// moving on; the scenario contract asks for round-robin, which spreads records evenly at
/// any time scale.)
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    next: u32,
}

impl RoundRobin {
    /// The partition of the next record without a key.
    pub fn next(&mut self, partitions: u32) -> u32 {
        let p = to_positive(self.next as i32) % partitions;
        self.next = self.next.wrapping_add(1);
        p
    }
}

/// A group's partition assignment strategy (`partition.assignment.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    /// `RangeAssignor` (Kafka's default): contiguous ranges per consumer.
    Range,
    /// `RoundRobinAssignor`: partition p to the (p mod n)-th consumer.
    RoundRobin,
    /// `CooperativeStickyAssignor`: balanced, keeps partitions where they are, and a
    /// rebalance stops only the partitions that move.
    CooperativeSticky,
}

impl Assignor {
    /// Eager assignors revoke every partition of every member at a rebalance.
    pub fn eager(self) -> bool {
        !matches!(self, Assignor::CooperativeSticky)
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "round-robin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }
}

/// The owner of each partition after a rebalance among `members` (member indices; their
/// order is that of Kafka's member ids, compared as the scenario's consumer numbers).
/// `previous` is each partition's owner before (used by cooperative-sticky only). `None`
/// for every partition when there are no members.
///
/// - Range (Kafka's `RangeAssignor`, one topic): with n members sorted, member i gets the
///   contiguous range starting at `i·⌊P/n⌋ + min(i, P mod n)`, of length
///   `⌊P/n⌋ + [i < P mod n]`: the first `P mod n` members get one more.
/// - Round-robin (`RoundRobinAssignor`): partition p goes to member `p mod n`.
/// - Cooperative-sticky (`CooperativeStickyAssignor`, Kafka's constrained sticky algorithm
///   for members with equal subscriptions): every member gets ⌊P/n⌋ or ⌈P/n⌉ partitions;
///   each keeps what it owned up to its quota (at most `P mod n` members keep one over
///   ⌊P/n⌋, taken in member order); the partitions left are handed out in index order to
///   the members below ⌊P/n⌋ first, then to those that may still take one over. With no
///   previous owners this is the round-robin assignment.
pub fn assign(
    assignor: Assignor,
    partitions: u32,
    members: &[u32],
    previous: &[Option<u32>],
) -> Vec<Option<u32>> {
    let p_count = partitions as usize;
    let n = members.len();
    if n == 0 {
        return vec![None; p_count];
    }
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    match assignor {
        Assignor::Range => {
            let (per, extra) = (p_count / n, p_count % n);
            let mut owner = vec![None; p_count];
            for (i, &m) in sorted.iter().enumerate() {
                let start = i * per + i.min(extra);
                let len = per + usize::from(i < extra);
                for o in &mut owner[start..start + len] {
                    *o = Some(m);
                }
            }
            owner
        }
        Assignor::RoundRobin => (0..p_count).map(|p| Some(sorted[p % n])).collect(),
        Assignor::CooperativeSticky => {
            if previous.iter().all(|o| o.is_none_or(|m| !sorted.contains(&m))) {
                return assign(Assignor::RoundRobin, partitions, members, previous);
            }
            let min_quota = p_count / n;
            let mut over_slots = p_count % n;
            let mut owner: Vec<Option<u32>> = vec![None; p_count];
            let mut counts = vec![0usize; n];
            for (i, &m) in sorted.iter().enumerate() {
                let owned: Vec<usize> = (0..p_count).filter(|&p| previous[p] == Some(m)).collect();
                let keep = if owned.len() > min_quota && over_slots > 0 {
                    over_slots -= 1;
                    min_quota + 1
                } else {
                    owned.len().min(min_quota)
                };
                for &p in owned.iter().take(keep) {
                    owner[p] = Some(m);
                }
                counts[i] = keep;
            }
            let unassigned: Vec<usize> = (0..p_count).filter(|&p| owner[p].is_none()).collect();
            let mut it = unassigned.into_iter();
            // Members below the minimum quota first, in member order.
            for i in 0..n {
                while counts[i] < min_quota {
                    let Some(p) = it.next() else { break };
                    owner[p] = Some(sorted[i]);
                    counts[i] += 1;
                }
            }
            // Then one more each to members at the minimum, while over-quota slots remain.
            for i in 0..n {
                if over_slots == 0 {
                    break;
                }
                if counts[i] == min_quota {
                    let Some(p) = it.next() else { break };
                    owner[p] = Some(sorted[i]);
                    counts[i] += 1;
                    over_slots -= 1;
                }
            }
            owner
        }
    }
}

/// One record handed to a consumer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Partition index.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// When it was published (the back end's clock).
    pub published_at: f64,
}

/// One consumer group on a topic, as declared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupConfig {
    /// Consumers in the group.
    pub count: u32,
    /// Assignment strategy.
    pub assignor: Assignor,
    /// Most records one poll returns (at least 1).
    pub max_poll_records: u32,
    /// How long a rebalance stops the affected partitions, seconds.
    pub rebalance_pause: f64,
}

/// One group's position on one partition.
#[derive(Debug, Clone)]
struct Cursor {
    /// Records completely processed (they are processed in order, so offsets below this).
    completed: u64,
    /// Next offset to hand out; `[completed, fetched)` are held by a consumer (in its poll
    /// or in service).
    fetched: u64,
    /// A record of the partition is in service.
    busy: bool,
    /// No poll may take from the partition before this time (a rebalance).
    paused_until: f64,
    owner: Option<u32>,
}

#[derive(Debug, Clone)]
struct Member {
    alive: bool,
    /// Owned partitions, ascending.
    partitions: Vec<u32>,
    /// Where the next poll starts in `partitions`.
    rotate: usize,
    /// Records polled and not yet started.
    batch: VecDeque<Record>,
    in_service: Option<Record>,
}

#[derive(Debug, Clone)]
struct Group {
    config: GroupConfig,
    cursors: Vec<Cursor>,
    members: Vec<Member>,
    acked: u64,
    rebalances: u64,
}

/// A group's counts: `offered = acked + in_flight` exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Records published to the topic (every group receives every record).
    pub offered: u64,
    /// Records completely processed by the group.
    pub acked: u64,
    /// Records published and not yet completely processed (polled, in service or not yet
    /// fetched).
    pub in_flight: u64,
}

impl GroupCounts {
    /// Does `offered = acked + in_flight` hold?
    pub fn balanced(&self) -> bool {
        self.offered == self.acked + self.in_flight
    }
}

/// A topic's partitions and its groups' offsets. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct TopicLog {
    /// Per partition: the offset of `times[0]`, and the publish times of the records some
    /// group has not completed yet (older ones are dropped: nobody needs them again).
    base: Vec<u64>,
    times: Vec<VecDeque<f64>>,
    groups: Vec<Group>,
    published: u64,
}

impl TopicLog {
    /// A topic with `partitions` (at least 1) partitions and the given groups, every
    /// member alive and assigned at time 0 (the group's first assignment stops nothing).
    pub fn new(partitions: u32, groups: &[GroupConfig]) -> Self {
        let p = partitions as usize;
        let groups = groups
            .iter()
            .map(|&config| {
                let mut g = Group {
                    config,
                    cursors: vec![
                        Cursor {
                            completed: 0,
                            fetched: 0,
                            busy: false,
                            paused_until: f64::NEG_INFINITY,
                            owner: None,
                        };
                        p
                    ],
                    members: (0..config.count)
                        .map(|_| Member {
                            alive: true,
                            partitions: Vec::new(),
                            rotate: 0,
                            batch: VecDeque::new(),
                            in_service: None,
                        })
                        .collect(),
                    acked: 0,
                    rebalances: 0,
                };
                let all: Vec<u32> = (0..config.count).collect();
                let owners = assign(config.assignor, partitions, &all, &vec![None; p]);
                g.set_owners(&owners);
                g
            })
            .collect();
        TopicLog { base: vec![0; p], times: vec![VecDeque::new(); p], groups, published: 0 }
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.times.len() as u32
    }

    /// Appends a record to `partition`; returns its offset. Every group's owner of the
    /// partition may now have work: see [`owner`](Self::owner).
    pub fn publish(&mut self, partition: u32, now: f64) -> u64 {
        let p = partition as usize;
        self.times[p].push_back(now);
        self.published += 1;
        self.base[p] + self.times[p].len() as u64 - 1
    }

    /// The consumer of group `g` that owns `partition`, if any is alive.
    pub fn owner(&self, g: usize, partition: u32) -> Option<u32> {
        self.groups[g].cursors[partition as usize].owner
    }

    /// Log end offset of `partition`: records ever published to it.
    pub fn end(&self, partition: u32) -> u64 {
        let p = partition as usize;
        self.base[p] + self.times[p].len() as u64
    }

    /// Records of `partition` not yet completely processed by group `g` (the one in
    /// service included).
    pub fn lag(&self, g: usize, partition: u32) -> u64 {
        self.end(partition) - self.groups[g].cursors[partition as usize].completed
    }

    /// Records of `partition` not yet completely processed by every group: the lag of the
    /// group furthest behind (0 with no groups).
    pub fn max_lag(&self, partition: u32) -> u64 {
        (0..self.groups.len()).map(|g| self.lag(g, partition)).max().unwrap_or(0)
    }

    /// Group `g`'s counts.
    pub fn counts(&self, g: usize) -> GroupCounts {
        let in_flight = (0..self.partitions()).map(|p| self.lag(g, p)).sum();
        GroupCounts { offered: self.published, acked: self.groups[g].acked, in_flight }
    }

    /// Rebalances group `g` has gone through.
    pub fn rebalances(&self, g: usize) -> u64 {
        self.groups[g].rebalances
    }

    /// Partitions consumer `c` of group `g` owns now, ascending.
    pub fn assigned(&self, g: usize, c: u32) -> &[u32] {
        &self.groups[g].members[c as usize].partitions
    }

    /// Is consumer `c` of group `g` alive and not processing a record?
    pub fn is_idle(&self, g: usize, c: u32) -> bool {
        let m = &self.groups[g].members[c as usize];
        m.alive && m.in_service.is_none()
    }

    /// Is consumer `c` of group `g` alive?
    pub fn is_alive(&self, g: usize, c: u32) -> bool {
        self.groups[g].members[c as usize].alive
    }

    /// The next record consumer `c` of group `g` processes, if it is idle and has one: the
    /// rest of its last poll, else a new poll (see the module docs). The record is then in
    /// service until [`complete`](Self::complete) or the consumer [`leave`](Self::leave)s.
    pub fn start_next(&mut self, g: usize, c: u32, now: f64) -> Option<Record> {
        let group = &mut self.groups[g];
        let max_poll = group.config.max_poll_records.max(1) as usize;
        let member = &mut group.members[c as usize];
        if !member.alive || member.in_service.is_some() {
            return None;
        }
        if member.batch.is_empty() && !member.partitions.is_empty() {
            let n = member.partitions.len();
            let start = member.rotate;
            member.rotate = (member.rotate + 1) % n;
            for k in 0..n {
                if member.batch.len() >= max_poll {
                    break;
                }
                let p = member.partitions[(start + k) % n] as usize;
                let cur = &mut group.cursors[p];
                // Paused, or its previous owner still processes one of its records (this
                // member, idle with an empty poll, holds none).
                if cur.paused_until > now || cur.busy {
                    continue;
                }
                let end = self.base[p] + self.times[p].len() as u64;
                while cur.fetched < end && member.batch.len() < max_poll {
                    let i = (cur.fetched - self.base[p]) as usize;
                    member.batch.push_back(Record {
                        partition: p as u32,
                        offset: cur.fetched,
                        published_at: self.times[p][i],
                    });
                    cur.fetched += 1;
                }
            }
        }
        let r = member.batch.pop_front()?;
        member.in_service = Some(r);
        group.cursors[r.partition as usize].busy = true;
        Some(r)
    }

    /// Consumer `c` of group `g` has completely processed its record in service. Returns
    /// the record and, when the partition has moved to another consumer meanwhile, that
    /// consumer (which may now take the partition's next records). `None` if `c` had no
    /// record in service.
    pub fn complete(&mut self, g: usize, c: u32) -> Option<(Record, Option<u32>)> {
        let group = &mut self.groups[g];
        let r = group.members[c as usize].in_service.take()?;
        let p = r.partition as usize;
        let cur = &mut group.cursors[p];
        debug_assert_eq!(r.offset, cur.completed, "records of a partition complete in order");
        cur.completed += 1;
        cur.busy = false;
        group.acked += 1;
        let handed_over = cur.owner.filter(|&o| o != c);
        self.trim(r.partition);
        Some((r, handed_over))
    }

    /// Drops publish times every group has completed.
    fn trim(&mut self, partition: u32) {
        let p = partition as usize;
        let low = self.groups.iter().map(|g| g.cursors[p].completed).min().unwrap_or(u64::MAX);
        let low = low.min(self.base[p] + self.times[p].len() as u64);
        while self.base[p] < low {
            self.times[p].pop_front();
            self.base[p] += 1;
        }
    }

    /// Consumer `c` of group `g` leaves (a crash): the record it was processing and the
    /// rest of its poll go back to their partitions (to be processed again by the next
    /// owner), and the group rebalances among the members left. Returns the abandoned
    /// record, if any, and the time the rebalance's pause ends (`None`: nothing paused).
    pub fn leave(&mut self, g: usize, c: u32, now: f64) -> (Option<Record>, Option<f64>) {
        let group = &mut self.groups[g];
        let member = &mut group.members[c as usize];
        if !member.alive {
            return (None, None);
        }
        member.alive = false;
        let abandoned = member.in_service.take();
        member.batch.clear();
        if let Some(r) = abandoned {
            group.cursors[r.partition as usize].busy = false;
        }
        for &p in &group.members[c as usize].partitions.clone() {
            let cur = &mut group.cursors[p as usize];
            cur.fetched = cur.completed + u64::from(cur.busy);
        }
        (abandoned, self.rebalance(g, now))
    }

    /// Consumer `c` of group `g` comes back and the group rebalances. Returns the time the
    /// rebalance's pause ends (`None`: nothing paused).
    pub fn join(&mut self, g: usize, c: u32, now: f64) -> Option<f64> {
        let member = &mut self.groups[g].members[c as usize];
        if member.alive {
            return None;
        }
        member.alive = true;
        self.rebalance(g, now)
    }

    /// A new assignment among the live members. Eager assignors revoke everything: every
    /// partition stops for the pause and every member drops the unstarted rest of its poll.
    /// Cooperative-sticky stops only the partitions whose owner changes, and only their
    /// previous owners drop those partitions' unstarted records. A record in service is
    /// finished by the consumer processing it, and the partition's new owner starts after
    /// it.
    fn rebalance(&mut self, g: usize, now: f64) -> Option<f64> {
        let group = &mut self.groups[g];
        group.rebalances += 1;
        let alive: Vec<u32> =
            (0..group.config.count).filter(|&c| group.members[c as usize].alive).collect();
        let previous: Vec<Option<u32>> = group.cursors.iter().map(|c| c.owner).collect();
        let owners = assign(group.config.assignor, previous.len() as u32, &alive, &previous);
        let eager = group.config.assignor.eager();
        let pause = group.config.rebalance_pause;
        let mut paused = false;
        for (p, (&before, &after)) in previous.iter().zip(&owners).enumerate() {
            if !(eager || before != after) {
                continue;
            }
            let cur = &mut group.cursors[p];
            if pause > 0.0 {
                cur.paused_until = cur.paused_until.max(now + pause);
                paused = true;
            }
            if let Some(b) = before {
                let m = &mut group.members[b as usize];
                m.batch.retain(|r| r.partition as usize != p);
            }
            cur.fetched = cur.completed + u64::from(cur.busy);
        }
        group.set_owners(&owners);
        paused.then_some(now + pause)
    }
}

impl Group {
    fn set_owners(&mut self, owners: &[Option<u32>]) {
        for m in &mut self.members {
            m.partitions.clear();
        }
        for (p, &o) in owners.iter().enumerate() {
            self.cursors[p].owner = o;
            if let Some(o) = o {
                self.members[o as usize].partitions.push(p as u32);
            }
        }
        for m in &mut self.members {
            if m.rotate >= m.partitions.len() {
                m.rotate = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own test vectors for `Utils.murmur2`
    /// (`clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java`,
    /// `testMurmur2`), as the Java client computes them.
    #[test]
    fn murmur2_matches_kafkas_utils_test() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key), want, "{}", String::from_utf8_lossy(key));
        }
        // toPositive, not abs: -790332482 & 0x7fffffff = 1357151166, % 10 = 6.
        assert_eq!(partition_for_key(b"foobar", 10), 6);
        assert_eq!(to_positive(i32::MIN), 0);
    }

    #[test]
    fn keyless_records_go_round_robin() {
        let mut rr = RoundRobin::default();
        let seq: Vec<u32> = (0..7).map(|_| rr.next(3)).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn range_gives_the_first_members_one_more() {
        // 7 partitions, 3 members: Kafka's RangeAssignor gives [0,1,2], [3,4], [5,6].
        let o = assign(Assignor::Range, 7, &[0, 1, 2], &[]);
        let o: Vec<u32> = o.into_iter().map(Option::unwrap).collect();
        assert_eq!(o, [0, 0, 0, 1, 1, 2, 2]);
        // 6 partitions, 8 members: members 6 and 7 idle.
        let o = assign(Assignor::Range, 6, &(0..8).collect::<Vec<_>>(), &[]);
        assert!(o.iter().all(|x| x.is_some_and(|m| m < 6)));
        // Members are taken in id order whatever order they are given in.
        assert_eq!(assign(Assignor::Range, 2, &[5, 1], &[]), [Some(1), Some(5)]);
    }

    #[test]
    fn round_robin_and_sticky_start_alike_and_sticky_moves_little() {
        let all: Vec<u32> = (0..3).collect();
        let rr = assign(Assignor::RoundRobin, 7, &all, &[]);
        assert_eq!(rr, [0, 1, 2, 0, 1, 2, 0].map(Some));
        let sticky = assign(Assignor::CooperativeSticky, 7, &all, &[None; 7]);
        assert_eq!(sticky, rr);
        // Member 1 leaves: only its partitions (1, 4) move; the others keep theirs.
        let after = assign(Assignor::CooperativeSticky, 7, &[0, 2], &sticky);
        for p in [0, 2, 3, 5, 6] {
            assert_eq!(after[p], sticky[p], "partition {p} moved");
        }
        let count = |m| after.iter().filter(|&&o| o == Some(m)).count();
        assert_eq!((count(0) as i32 - count(2) as i32).abs(), 1);
        // It comes back: balanced again, and only partitions that go to it move.
        let back = assign(Assignor::CooperativeSticky, 7, &all, &after);
        let moved: Vec<usize> = (0..7).filter(|&p| back[p] != after[p]).collect();
        assert!(moved.iter().all(|&p| back[p] == Some(1)), "{back:?}");
        assert_eq!(moved.len(), 2);
    }

    fn cfg(count: u32, assignor: Assignor, max_poll: u32, pause: f64) -> GroupConfig {
        GroupConfig { count, assignor, max_poll_records: max_poll, rebalance_pause: pause }
    }

    #[test]
    fn polls_rotate_over_partitions_and_keep_partition_order() {
        let mut log = TopicLog::new(2, &[cfg(1, Assignor::Range, 3, 0.0)]);
        for p in [0, 0, 0, 0, 1, 1] {
            log.publish(p, 0.0);
        }
        let mut seen = Vec::new();
        while let Some(r) = log.start_next(0, 0, 1.0) {
            seen.push((r.partition, r.offset));
            log.complete(0, 0).unwrap();
        }
        // First poll starts at partition 0 (3 records), the next at partition 1.
        assert_eq!(seen, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (0, 3)]);
        assert!(log.counts(0).balanced());
        assert_eq!(log.counts(0).acked, 6);
    }

    #[test]
    fn every_group_gets_every_record_and_counts_balance() {
        let mut log = TopicLog::new(
            3,
            &[cfg(2, Assignor::Range, 10, 0.0), cfg(5, Assignor::RoundRobin, 1, 0.0)],
        );
        for i in 0..9 {
            log.publish(i % 3, 0.0);
        }
        assert_eq!(log.owner(1, 2), Some(2));
        // Group 1's consumers 3 and 4 are idle: no partition.
        assert!(log.assigned(1, 3).is_empty() && log.start_next(1, 3, 0.0).is_none());
        let r = log.start_next(0, 0, 0.0).unwrap();
        assert_eq!((r.partition, r.offset), (0, 0));
        assert_eq!(log.lag(0, 0), 3);
        log.complete(0, 0);
        assert_eq!(log.lag(0, 0), 2);
        assert_eq!(log.max_lag(0), 3);
        for g in 0..2 {
            let c = log.counts(g);
            assert!(c.balanced(), "{c:?}");
            assert_eq!(c.offered, 9);
        }
    }

    #[test]
    fn a_crash_requeues_and_eager_pauses_everyone_cooperative_only_the_moved() {
        for (assignor, other_paused) in
            [(Assignor::RoundRobin, true), (Assignor::CooperativeSticky, false)]
        {
            let mut log = TopicLog::new(4, &[cfg(2, assignor, 5, 3.0)]);
            for p in 0..4 {
                log.publish(p, 0.0);
            }
            let r = log.start_next(0, 1, 0.0).unwrap();
            assert_eq!(r.partition, 1);
            let (abandoned, until) = log.leave(0, 1, 1.0);
            assert_eq!(abandoned, Some(r));
            assert_eq!(until, Some(4.0));
            assert_eq!(log.assigned(0, 0), [0, 1, 2, 3]);
            // During the pause: consumer 0's own partitions (0, 2) run unless eager.
            let during = log.start_next(0, 0, 2.0);
            assert_eq!(during.is_none(), other_paused, "{assignor:?}");
            if let Some(d) = during {
                assert!(d.partition == 0 || d.partition == 2);
                log.complete(0, 0);
            }
            // After it: the abandoned record is processed again, in order.
            let mut got = Vec::new();
            while let Some(r) = log.start_next(0, 0, 5.0) {
                got.push((r.partition, r.offset));
                log.complete(0, 0);
            }
            assert!(got.contains(&(1, 0)));
            let c = log.counts(0);
            assert!(c.balanced() && c.acked == 4 && c.in_flight == 0, "{c:?}");
            // It comes back: eager stops all again; sticky only what moves to it.
            assert_eq!(log.join(0, 1, 6.0), Some(9.0));
            assert_eq!(log.assigned(0, 1).len(), 2);
        }
    }

    #[test]
    fn a_moved_partition_waits_for_the_record_its_old_owner_is_processing() {
        let mut log = TopicLog::new(2, &[cfg(2, Assignor::CooperativeSticky, 5, 0.0)]);
        log.leave(0, 1, 0.0);
        for _ in 0..2 {
            log.publish(1, 0.0);
        }
        let r = log.start_next(0, 0, 0.0).unwrap();
        assert_eq!((r.partition, r.offset), (1, 0));
        // Consumer 1 returns and takes partition 1 back while 0 still processes offset 0.
        log.join(0, 1, 0.5);
        assert_eq!(log.assigned(0, 1), [1]);
        assert!(log.start_next(0, 1, 0.5).is_none());
        let (_, wake) = log.complete(0, 0).unwrap();
        assert_eq!(wake, Some(1));
        assert_eq!(log.start_next(0, 1, 0.6).map(|r| r.offset), Some(1));
    }
}
