package drift

// mt19937 is the Mersenne Twister as numpy's legacy RandomState drives it,
// so that the text drift test draws exactly the numbers Evidently's
// (train_test_split with random_state=42, np.random.seed) do.
type mt19937 struct {
	state [624]uint32
	pos   int
}

// newMT19937 seeds like numpy.random.RandomState(seed) for an integer seed.
func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{pos: 624}
	for i := range m.state {
		m.state[i] = seed
		seed = 1812433253*(seed^(seed>>30)) + uint32(i) + 1
	}
	return m
}

func (m *mt19937) generate() {
	const upper, lower, matrixA = 0x80000000, 0x7fffffff, 0x9908b0df
	for i := range m.state {
		y := m.state[i]&upper | m.state[(i+1)%624]&lower
		v := m.state[(i+397)%624] ^ y>>1
		if y&1 != 0 {
			v ^= matrixA
		}
		m.state[i] = v
	}
	m.pos = 0
}

func (m *mt19937) uint32() uint32 {
	if m.pos == 624 {
		m.generate()
	}
	y := m.state[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	return y ^ y>>18
}

// float64 is random_sample: 53 random bits from two draws.
func (m *mt19937) float64() float64 {
	a, b := m.uint32()>>5, m.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}

// interval returns a number in [0, max] by masked rejection (numpy's
// random_interval and legacy randint below 2^32).
func (m *mt19937) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	for s := uint(1); s <= 16; s <<= 1 {
		mask |= mask >> s
	}
	for {
		if v := m.uint32() & mask; v <= max {
			return v
		}
	}
}

// randint is RandomState.randint(low, high) for a range below 2^32.
func (m *mt19937) randint(low, high int64) int64 {
	return low + int64(m.interval(uint32(high-1-low)))
}

// permutation is RandomState.permutation(n).
func (m *mt19937) permutation(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(m.interval(uint32(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
