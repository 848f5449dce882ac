//! A small seeded random source and a Zipf-distributed user picker, so a few users are
//! popular (their history stays cached) and many are rare, as on a real service.

/// xorshift64*: fast, seeded, good enough to pick users and messages.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks ranks 0..n with probability proportional to 1 / (rank + 1)^s.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A picker over `n` items (at least 1) with exponent `s`.
    pub fn new(n: u32, s: f64) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|k| {
                total += 1.0 / f64::from(k).powf(s);
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Self { cdf }
    }

    /// A rank, 0 being the most popular.
    pub fn pick(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        let i = self.cdf.partition_point(|&c| c < u);
        u32::try_from(i.min(self.cdf.len() - 1)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popular_ranks_come_up_more_often() {
        let z = Zipf::new(1000, 1.1);
        let mut rng = Rng::new(7);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.pick(&mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
        let top10: u32 = counts[..10].iter().sum();
        assert!(
            top10 > 40_000,
            "the head carries much of the traffic: {top10}"
        );
    }

    #[test]
    fn same_seed_same_sequence() {
        let z = Zipf::new(50, 1.0);
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        let xs: Vec<u32> = (0..20).map(|_| z.pick(&mut a)).collect();
        let ys: Vec<u32> = (0..20).map(|_| z.pick(&mut b)).collect();
        assert_eq!(xs, ys);
    }
}
