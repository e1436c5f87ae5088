// Clang's thread-safety analysis (-Wthread-safety), and the mutex and lock
// types it understands. What a mutex guards is written on the members
// (IRSA_GUARDED_BY), what a function needs on the function (IRSA_REQUIRES,
// IRSA_EXCLUDES), so the compiler, not a comment, checks the locking.
// `make lint` compiles src/ with clang-14 and -Werror=thread-safety; GCC
// builds see plain std::mutex and std::shared_mutex.
#pragma once

#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define IRSA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define IRSA_THREAD_ANNOTATION(x)
#endif

#define IRSA_CAPABILITY(x) IRSA_THREAD_ANNOTATION(capability(x))
#define IRSA_SCOPED_CAPABILITY IRSA_THREAD_ANNOTATION(scoped_lockable)
#define IRSA_GUARDED_BY(x) IRSA_THREAD_ANNOTATION(guarded_by(x))
#define IRSA_PT_GUARDED_BY(x) IRSA_THREAD_ANNOTATION(pt_guarded_by(x))
#define IRSA_ACQUIRED_BEFORE(...) IRSA_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define IRSA_ACQUIRED_AFTER(...) IRSA_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define IRSA_REQUIRES(...) IRSA_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define IRSA_REQUIRES_SHARED(...) IRSA_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define IRSA_ACQUIRE(...) IRSA_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define IRSA_ACQUIRE_SHARED(...) IRSA_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define IRSA_RELEASE(...) IRSA_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define IRSA_RELEASE_SHARED(...) IRSA_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define IRSA_RELEASE_GENERIC(...) IRSA_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define IRSA_EXCLUDES(...) IRSA_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define IRSA_RETURN_CAPABILITY(x) IRSA_THREAD_ANNOTATION(lock_returned(x))
#define IRSA_NO_THREAD_SAFETY_ANALYSIS IRSA_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace irsa {

// std::mutex, as a capability. BasicLockable, so std::condition_variable_any
// waits on it directly (`ready_.wait(mutex_)` inside a function that
// IRSA_REQUIRES(mutex_)).
class IRSA_CAPABILITY("mutex") Mutex {
 public:
  void lock() IRSA_ACQUIRE() { mutex_.lock(); }
  void unlock() IRSA_RELEASE() { mutex_.unlock(); }

 private:
  std::mutex mutex_;
};

// std::shared_mutex, as a capability: exclusive for writers, shared for
// readers.
class IRSA_CAPABILITY("shared mutex") SharedMutex {
 public:
  void lock() IRSA_ACQUIRE() { mutex_.lock(); }
  void unlock() IRSA_RELEASE() { mutex_.unlock(); }
  void lock_shared() IRSA_ACQUIRE_SHARED() { mutex_.lock_shared(); }
  void unlock_shared() IRSA_RELEASE_SHARED() { mutex_.unlock_shared(); }

 private:
  std::shared_mutex mutex_;
};

// Holds a Mutex (or a SharedMutex exclusively) for its scope.
template <typename M>
class IRSA_SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(M& mutex) IRSA_ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~LockGuard() IRSA_RELEASE() { mutex_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  M& mutex_;
};
using MutexLock = LockGuard<Mutex>;
using WriterLock = LockGuard<SharedMutex>;

// Holds a SharedMutex shared for its scope.
class IRSA_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mutex) IRSA_ACQUIRE_SHARED(mutex) : mutex_(mutex) {
    mutex_.lock_shared();
  }
  ~ReaderLock() IRSA_RELEASE() { mutex_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mutex_;
};

}  // namespace irsa
