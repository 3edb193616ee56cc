//! The throttle on Tokio's paused clock: timers fire in order and the time
//! is the buckets' alone, no wall-clock time is read.

use super::*;
use crate::net::bytes::capacity;
use tokio::time::Instant;

fn bucket(per_second: u64) -> Arc<ByteBucket> {
    Arc::new(ByteBucket::new(per_second))
}

/// 100 KB/s read in 64 KiB chunks (larger than the bucket's 16 KiB):
/// no chunk is stuck, and 2 MB take 20 s, less the first bucketful.
#[tokio::test(start_paused = true)]
async fn a_chunk_larger_than_the_bucket_passes_and_the_average_holds() {
    let throttle = Throttle::new(vec![bucket(100_000)]);
    let start = Instant::now();
    let chunk = 64 * 1024;
    let mut sent = 0;
    while sent < 2_000_000 {
        throttle.charge(chunk).await;
        sent += chunk;
    }
    let took = start.elapsed().as_secs_f64();
    // The reader waits out each chunk's debt after it arrived: all
    // but the first bucketful took the time the limit gives them.
    let rate = (sent - capacity(100_000) as usize) as f64 / took;
    assert!((rate - 100_000.0).abs() < 500.0, "{rate} B/s over {took} s");
    assert!(throttle.waited() > Duration::from_secs(19));
}

/// Two bodies on one bucket share it: together they keep to the limit.
#[tokio::test(start_paused = true)]
async fn bodies_that_share_a_bucket_share_its_rate() {
    let shared = bucket(50_000);
    let start = Instant::now();
    let body = |b: Arc<ByteBucket>| async move {
        let t = Throttle::new(vec![b]);
        for _ in 0..50 {
            t.charge(10_000).await;
        }
    };
    tokio::join!(body(shared.clone()), body(shared.clone()));
    let took = start.elapsed().as_secs_f64();
    // 1 MB at 50 KB/s: 20 s, less what the full bucket let by at once.
    assert!((took - 20.0).abs() < 0.6, "{took} s");
}

/// Sixteen requests of 50 KB at once under 100 KB/s: each is sent only
/// once it is paid for, so by any time no more bytes were asked for than
/// the limit allows and the bucket held; the last goes after ~8 s.
#[tokio::test(start_paused = true)]
async fn requests_of_known_size_go_as_the_limit_pays_for_them() {
    let shared = bucket(100_000);
    let start = Instant::now();
    let request = |b: Arc<ByteBucket>| async move {
        let mut t = Throttle::new(vec![b]);
        t.prepay(Some(50_000)).await;
        let sent = start.elapsed().as_secs_f64();
        t.charge(50_000).await;
        assert_eq!(t.waited(), Duration::ZERO, "paid bytes waited again");
        sent
    };
    let mut sent = futures_util::future::join_all((0..16).map(|_| request(shared.clone()))).await;
    sent.sort_by(f64::total_cmp);
    for (k, t) in sent.iter().enumerate() {
        let asked = (k as f64 + 1.0) * 50_000.0;
        let allowed = capacity(100_000) as f64 + 100_000.0 * t;
        assert!(asked <= allowed + 1.0, "request {k} sent at {t} s");
    }
    let last = sent[15];
    let want = (800_000.0 - capacity(100_000) as f64) / 100_000.0;
    assert!((last - want).abs() < 0.01, "the last went at {last} s");
}

/// With no size known, the first request goes at once and pays nothing;
/// the second waits until the first body is whole, then pays its size.
#[tokio::test(start_paused = true)]
async fn the_first_request_of_unknown_size_goes_alone() {
    let shared = bucket(100_000);
    let mut first = Throttle::new(vec![shared.clone()]);
    first.prepay(None).await;
    let second = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut t = Throttle::new(vec![shared]);
            t.prepay(None).await;
            (Instant::now(), t.prepaid)
        })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !second.is_finished(),
        "the second went before a size was known"
    );
    let done = Instant::now();
    first.charge(200_000).await;
    first.passed();
    drop(first);
    let (went, paid) = second.await.unwrap();
    assert_eq!(paid, 200_000);
    // The first body's debt, then the second's prepayment: ~4 s.
    let after = went.duration_since(done).as_secs_f64();
    let want = (400_000.0 - capacity(100_000) as f64) / 100_000.0;
    assert!((after - want).abs() < 0.01, "{after} s");
}

/// A body shorter than its prepayment gives the rest back; a longer one
/// is charged for what is beyond it, as it arrives.
#[tokio::test(start_paused = true)]
async fn the_difference_from_the_prepayment_is_settled() {
    let shared = bucket(100_000);
    let full = capacity(100_000);
    let mut short = Throttle::new(vec![shared.clone()]);
    short.prepay(Some(full + 100_000)).await;
    short.charge(30_000).await;
    drop(short);
    // 70 KB given back: the bucket holds it (capped at capacity).
    assert_eq!(shared.charge(full), Duration::ZERO);
    let mut long = Throttle::new(vec![shared.clone()]);
    long.prepay(Some(10_000)).await;
    long.charge(10_000).await;
    assert_eq!(long.waited(), Duration::ZERO);
    long.charge(50_000).await;
    assert!(
        long.waited() >= Duration::from_millis(500),
        "{:?}",
        long.waited()
    );
}

/// A redirect to a host with its own limit moves what was paid: the old
/// host's bucket gets it back, the new one is charged, a shared one keeps it.
#[tokio::test(start_paused = true)]
async fn a_redirect_moves_the_prepayment_to_the_new_host() {
    let (run, a, b) = (bucket(100_000), bucket(100_000), bucket(100_000));
    let full = capacity(100_000);
    let mut t = Throttle::new(vec![a.clone(), run.clone()]);
    t.prepay(Some(full)).await;
    let t = t.moved_to(Throttle::new(vec![b.clone(), run.clone()]));
    assert_eq!(a.charge(full), Duration::ZERO, "a got its prepayment back");
    assert!(b.charge(1000) > Duration::ZERO, "b was charged");
    assert!(run.charge(1000) > Duration::ZERO, "the run's stays paid");
    t.charge(full as usize).await;
    assert_eq!(t.waited(), Duration::ZERO);
}
