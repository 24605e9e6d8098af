//! Giving the heap freed after a burst back to the operating system.
//!
//! A full list decodes hundreds of MB of JSON through short-lived buffers spread over
//! glibc's per-thread arenas; glibc keeps those freed pages, so without a trim the RSS
//! of a synced server holds a list's transient peak on top of the (much smaller) cache.

/// Returns free heap pages to the OS; a no-op where the allocator has no such call.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions: it takes the arena locks itself and only
    // releases pages that hold no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
