//! A cache hint: [`prefetch`] asks the processor to start loading a value's cache line
//! now, because it will be read soon. It changes no result, only when memory arrives.
//!
//! Why: a model with thousands of consumers spreads their state over megabytes, and each
//! event's handler reads it through a chain of dependent loads (consumer, queue, slot),
//! each a cache miss. The event calendar knows which events come next, so the simulator
//! starts those loads one or two events ahead ([`crate::sim`]).

/// Starts loading the cache line that holds `*value` (a no-op off x86-64).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing into the program and cannot fault (the address is
    // a live reference's in any case); `sse` is part of the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
