// The AXI4 slave memory (rtl_templates/axi_memory.h) and the AXI4-Lite master (axil_master.h)
// against scripted masters and slaves, built with g++ by test_axi_memory.py.
// usage: axi_memory_test CASE   (runs one case: prints "ok", or the failure, exit 1)
//        axi_memory_test list   (the case names, one a line)
// The ideal-mode expectations are hand-computed from the rules in axi_memory.h's header comment.
#include "axi_memory.h"
#include "axil_master.h"

#include <cstring>
#include <functional>
#include <map>
#include <set>

using namespace dian;

namespace {

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

#define EXPECT(cond, ...)                                                                         \
    do {                                                                                          \
        if (!(cond)) throw Failure(axi_format("line %d: %s: ", __LINE__, #cond) + axi_format(__VA_ARGS__)); \
    } while (0)

std::vector<uint8_t> pattern(std::size_t n, unsigned seed = 1) {
    std::vector<uint8_t> v(n);
    AxiRng r(seed);
    for (auto& b : v) b = static_cast<uint8_t>(r.next());
    return v;
}

AxiAddr req(uint64_t addr, unsigned beats, unsigned bus_bytes) {
    AxiAddr a;
    a.valid = true;
    a.addr = addr;
    a.len = beats - 1;
    while ((1u << a.size) < bus_bytes) ++a.size;
    return a;
}

AxiBeat beat_of(const std::vector<uint8_t>& v, std::size_t off, unsigned n) {
    AxiBeat b{};
    for (unsigned i = 0; i < n; ++i) b[i] = v[off + i];
    return b;
}

bool same(const AxiBeat& a, const AxiBeat& b, unsigned n) { return std::memcmp(a.data(), b.data(), n) == 0; }

// A master scripted per cycle: script(cycle, out-of-the-slave) returns the master's outputs.
// Records, per cycle, the slave's outputs.
struct Trace {
    std::vector<AxiSlaveOut> cycles;
};

Trace run(AxiMemory& mem, uint64_t n, const std::function<AxiMasterOut(uint64_t, const AxiSlaveOut&)>& script) {
    Trace t;
    for (uint64_t c = 0; c < n; ++c) {
        const AxiSlaveOut s = mem.out();
        t.cycles.push_back(s);
        mem.edge(script(c, s));
    }
    return t;
}

// ---- ideal timing ---------------------------------------------------------------------------

// bus 8 bytes, lambda 3, memory [0x1000, 0x2000).
// A: AR in cycle 2, 4 beats       -> beats in 5, 6, 7, 8            (t + 3 + k)
// B: AR in cycle 3, 2 beats       -> beat 0 max(6, 8+1) = 9, beat 1 max(7, 10) = 10
// C: AR in cycle 20, 3 beats, rready 0 in cycles 23 and 24
//                                 -> beat 0 in 23..25 (handshake 25), beat 1 max(24, 26) = 26, beat 2 27
void ideal_read_timing() {
    const unsigned N = 8;
    auto init = pattern(4096);
    AxiMemory mem({N, 0x1000, 3}, init);
    std::map<uint64_t, std::pair<uint64_t, bool>> want = {  // cycle -> (address, rlast)
        {5, {0x1000, false}}, {6, {0x1008, false}}, {7, {0x1010, false}}, {8, {0x1018, true}},
        {9, {0x1100, false}}, {10, {0x1108, true}},
        {23, {0x1200, false}}, {24, {0x1200, false}}, {25, {0x1200, false}}, {26, {0x1208, false}}, {27, {0x1210, true}},
    };
    Trace t = run(mem, 40, [&](uint64_t c, const AxiSlaveOut& s) {
        AxiMasterOut m;
        if (c == 2) m.ar = req(0x1000, 4, N);
        if (c == 3) m.ar = req(0x1100, 2, N);
        if (c == 20) m.ar = req(0x1200, 3, N);
        m.rready = c != 23 && c != 24;
        EXPECT(s.arready && s.awready && s.wready, "cycle %llu: a ready is 0 in ideal mode", (unsigned long long)c);
        return m;
    });
    for (uint64_t c = 0; c < t.cycles.size(); ++c) {
        const AxiSlaveOut& s = t.cycles[c];
        auto it = want.find(c);
        EXPECT(s.rvalid == (it != want.end()), "cycle %llu: rvalid %d", (unsigned long long)c, (int)s.rvalid);
        if (!s.rvalid) continue;
        const uint64_t off = it->second.first - 0x1000;
        EXPECT(same(s.rdata, beat_of(init, off, N), N), "cycle %llu: rdata", (unsigned long long)c);
        EXPECT(s.rlast == it->second.second && s.rresp == AXI_OKAY, "cycle %llu: rlast/rresp", (unsigned long long)c);
    }
    EXPECT(mem.idle() && mem.stats().max_read_latency == 6, "max_read_latency %llu (B: AR 3, beat 9)",
           (unsigned long long)mem.stats().max_read_latency);
}

// bus 4 bytes, lambda 3, memory [0, 0x1000).
// W1: AW and W beats together, AW in 1, W in 1 and 2 (wlast)  -> B in max(2 + 3, 1 + 1) = 5
// W2: W in 7 and 8 (wlast) before its AW in 12                 -> B in max(8 + 3, 12 + 1) = 13
// W3: AW and W in 20 (1 beat); W4: AW and W in 21, bready 0 in 23, 24
//                                  -> B3 in 23..25 (handshake 25), B4 in max(21 + 3, 26) = 26
void ideal_write_timing() {
    const unsigned N = 4;
    AxiMemory mem({N, 0, 3}, std::vector<uint8_t>(4096, 0));
    std::set<uint64_t> want_b = {5, 13, 23, 24, 25, 26};
    auto w = [&](AxiMasterOut& m, uint32_t word, bool last) {
        m.wvalid = true;
        for (unsigned i = 0; i < N; ++i) m.wdata[i] = static_cast<uint8_t>(word >> (8 * i));
        m.wstrb = 0xF;
        m.wlast = last;
    };
    Trace t = run(mem, 30, [&](uint64_t c, const AxiSlaveOut&) {
        AxiMasterOut m;
        if (c == 1) m.aw = req(0x100, 2, N), w(m, 0x11111111, false);
        if (c == 2) w(m, 0x22222222, true);
        if (c == 7) w(m, 0x33333333, false);
        if (c == 8) w(m, 0x44444444, true);
        if (c == 12) m.aw = req(0x200, 2, N);
        if (c == 20) m.aw = req(0x300, 1, N), w(m, 0x55555555, true);
        if (c == 21) m.aw = req(0x304, 1, N), w(m, 0x66666666, true);
        m.bready = c != 23 && c != 24;
        return m;
    });
    for (uint64_t c = 0; c < t.cycles.size(); ++c)
        EXPECT(t.cycles[c].bvalid == (want_b.count(c) == 1) && t.cycles[c].bresp == AXI_OKAY, "cycle %llu: bvalid %d",
               (unsigned long long)c, (int)t.cycles[c].bvalid);
    auto word = [&](uint32_t a) {
        uint32_t v = 0;
        for (int i = 3; i >= 0; --i) v = v << 8 | mem.bytes()[a + i];
        return v;
    };
    EXPECT(word(0x100) == 0x11111111 && word(0x104) == 0x22222222, "W1 data");
    EXPECT(word(0x200) == 0x33333333 && word(0x204) == 0x44444444, "W2 data");
    EXPECT(word(0x300) == 0x55555555 && word(0x304) == 0x66666666, "W3, W4 data");
    EXPECT(mem.idle(), "idle at the end");
}

// Ideal memory: a W beat is in memory from the cycle after its handshake; an R beat carries the memory of
// the first cycle it is presented in; wstrb bytes 0 are not written; W before AW lands at the AW edge.
// bus 4, lambda 2: AR of 0x10 in 10 -> beat in 12. Write 0x10 in 11 -> the beat (12) sees it.
//                  AR of 0x20 in 20 -> beat in 22. Write 0x20 in 22 -> the beat (22) does not see it.
//                  W of 0x30 (wstrb 0b0101) in 30, AW in 33: memory unchanged at 33, changed at 34.
void ideal_write_visibility() {
    const unsigned N = 4;
    AxiMemory mem({N, 0, 2}, std::vector<uint8_t>(256, 0xEE));
    AxiBeat seen12{}, seen22{};
    uint32_t at33 = 0, at34 = 0;
    auto w = [&](AxiMasterOut& m, uint32_t strb) {
        m.wvalid = true;
        m.wdata = {1, 2, 3, 4};
        m.wstrb = strb;
        m.wlast = true;
    };
    auto word = [&](uint32_t a) { return uint32_t(mem.bytes()[a]) | uint32_t(mem.bytes()[a + 1]) << 8 |
                                         uint32_t(mem.bytes()[a + 2]) << 16 | uint32_t(mem.bytes()[a + 3]) << 24; };
    run(mem, 40, [&](uint64_t c, const AxiSlaveOut& s) {
        AxiMasterOut m;
        m.rready = m.bready = true;
        if (c == 10) m.ar = req(0x10, 1, N);
        if (c == 11) m.aw = req(0x10, 1, N), w(m, 0xF);
        if (c == 12) {
            seen12 = s.rdata;
            EXPECT(s.rvalid, "beat in 12");
        }
        if (c == 20) m.ar = req(0x20, 1, N);
        if (c == 22) {
            m.aw = req(0x20, 1, N), w(m, 0xF), seen22 = s.rdata;
            EXPECT(s.rvalid, "beat in 22");
        }
        if (c == 30) w(m, 0x5);
        if (c == 33) m.aw = req(0x30, 1, N), at33 = word(0x30);
        if (c == 34) at34 = word(0x30);
        return m;
    });
    EXPECT(seen12[0] == 1 && seen12[3] == 4, "the beat in 12 carries the write of 11");
    EXPECT(seen22[0] == 0xEE && seen22[3] == 0xEE, "the beat in 22 predates the write of 22");
    EXPECT(at33 == 0xEEEEEEEE && at34 == 0xEE03EE01, "W before AW: %08x at 33, %08x at 34", at33, at34);
}

// ---- random mode ----------------------------------------------------------------------------

// A random but correct master: bursts to 256-byte blocks, never reading a block with a write in flight
// (not yet B'd) or writing one with a read in flight; valids held until ready; rready/bready random;
// W beats may run ahead of their AW. Checks every R beat and the final memory against a shadow.
struct RandomMaster {
    unsigned n;
    AxiRng rng;
    std::vector<uint8_t> shadow;
    struct Burst {
        uint64_t addr;
        unsigned beats;
        std::vector<uint8_t> data;  // writes: what is written; reads: what must come back
        uint32_t strb;
    };
    std::deque<Burst> ar_q, reads, aw_q, w_q, b_q;  // to issue / in flight
    unsigned w_beat = 0, r_beat = 0;
    std::map<uint64_t, int> block_reads, block_writes;
    uint64_t issued = 0, target;

    RandomMaster(unsigned bus, uint64_t seed, std::size_t size, uint64_t bursts)
        : n(bus), rng(seed * 7 + 3), shadow(pattern(size, unsigned(seed))), target(bursts) {}

    AxiMasterOut drive(const AxiSlaveOut& s) {
        (void)s;
        if (issued < target && rng.one_in(3)) new_burst();
        AxiMasterOut m;
        if (!ar_q.empty()) m.ar = req(ar_q.front().addr, ar_q.front().beats, n);
        if (!aw_q.empty()) m.aw = req(aw_q.front().addr, aw_q.front().beats, n);
        if (!w_q.empty()) {
            const Burst& b = w_q.front();
            m.wvalid = true;
            for (unsigned i = 0; i < n; ++i) m.wdata[i] = b.data[w_beat * n + i];
            m.wstrb = b.strb;
            m.wlast = w_beat + 1 == b.beats;
        }
        m.rready = !rng.one_in(4);
        m.bready = !rng.one_in(4);
        return m;
    }

    // After edge(): account the handshakes of the cycle (m was driven, s seen).
    void after(const AxiMasterOut& m, const AxiSlaveOut& s) {
        if (m.ar.valid && s.arready) reads.push_back(ar_q.front()), ar_q.pop_front();
        if (m.aw.valid && s.awready) b_q.push_back(aw_q.front()), aw_q.pop_front();
        if (m.wvalid && s.wready && ++w_beat == w_q.front().beats) w_beat = 0, w_q.pop_front();
        if (s.rvalid && m.rready) {
            EXPECT(!reads.empty(), "R beat without a read");
            Burst& b = reads.front();
            EXPECT(s.rresp == AXI_OKAY && s.rlast == (r_beat + 1 == b.beats), "rresp/rlast");
            EXPECT(std::memcmp(s.rdata.data(), &b.data[r_beat * n], n) == 0, "rdata of beat %u at 0x%llx", r_beat,
                   (unsigned long long)b.addr);
            if (++r_beat == b.beats) r_beat = 0, --block_reads[b.addr >> 8], reads.pop_front();
        }
        if (s.bvalid && m.bready) {
            EXPECT(!b_q.empty() && s.bresp == AXI_OKAY, "B without a write, or not OKAY");
            Burst& b = b_q.front();
            for (unsigned k = 0; k < b.beats; ++k)
                for (unsigned i = 0; i < n; ++i)
                    if (b.strb >> i & 1) shadow[b.addr + k * n + i] = b.data[k * n + i];
            --block_writes[b.addr >> 8];
            b_q.pop_front();
        }
    }

    void new_burst() {
        const uint64_t block = rng.below(shadow.size() / 256);
        const unsigned max_beats = 256 / n;
        const unsigned beats = unsigned(rng.one_in(4) ? rng.range(1, max_beats) : rng.range(1, std::min(4u, max_beats)));
        const uint64_t addr = block * 256 + rng.below(max_beats - beats + 1) * n;
        Burst b{addr, beats, std::vector<uint8_t>(beats * n), (1u << n) - 1u};
        if (n == 32) b.strb = 0xFFFFFFFFu;
        if (rng.one_in(2)) {  // read
            if (block_writes[block]) return;
            std::memcpy(b.data.data(), &shadow[addr], b.data.size());
            ++block_reads[block];
            ar_q.push_back(b);
        } else {
            if (block_reads[block]) return;  // writes in flight to it are fine: W, B and memory stay in order
            for (auto& x : b.data) x = static_cast<uint8_t>(rng.next());
            if (rng.one_in(5)) b.strb &= static_cast<uint32_t>(rng.next());
            ++block_writes[block];
            aw_q.push_back(b);
            w_q.push_back(b);
        }
        ++issued;
    }

    bool finished() const {
        return issued == target && ar_q.empty() && reads.empty() && aw_q.empty() && w_q.empty() && b_q.empty();
    }
};

AxiMemoryStats random_run(unsigned bus, unsigned latency, uint64_t seed, uint64_t bursts) {
    const std::size_t size = 8192;
    RandomMaster master(bus, seed, size, bursts);
    AxiMemoryOptions o{bus, 0, latency};
    o.random = true;
    o.seed = seed;
    AxiMemory mem(o, master.shadow);
    uint64_t c = 0;
    for (; !master.finished(); ++c) {
        EXPECT(c < 2000000, "seed %llu: the random master did not finish", (unsigned long long)seed);
        const AxiSlaveOut s = mem.out();
        const AxiMasterOut m = master.drive(s);
        mem.edge(m);
        master.after(m, s);
    }
    EXPECT(mem.idle(), "seed %llu: idle at the end", (unsigned long long)seed);
    EXPECT(mem.bytes() == master.shadow, "seed %llu: memory differs from the shadow", (unsigned long long)seed);
    return mem.stats();
}

// Many seeds, four bus widths: every R beat and the final memory equal the shadow's.
void random_integrity() {
    const unsigned buses[] = {1, 4, 8, 32};
    for (uint64_t seed = 1; seed <= 200; ++seed) random_run(buses[seed % 4], unsigned(1 + seed % 5), seed, 60);
}

// Over a few seeds the adversary shows every trick: ready drops on all three channels, read latencies
// over 100 cycles, gaps inside bursts, B over 100 cycles late, writes applied after their handshake.
void random_adversary_shows_up() {
    AxiMemoryStats all;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        const AxiMemoryStats s = random_run(8, 2, seed, 200);
        all.ar_stalls += s.ar_stalls, all.aw_stalls += s.aw_stalls, all.w_stalls += s.w_stalls;
        all.r_gaps += s.r_gaps, all.late_writes += s.late_writes, all.ready_drops += s.ready_drops;
        all.max_read_latency = std::max(all.max_read_latency, s.max_read_latency);
        all.max_write_latency = std::max(all.max_write_latency, s.max_write_latency);
        all.rready_stalls += s.rready_stalls, all.bready_stalls += s.bready_stalls;
    }
    EXPECT(all.ar_stalls > 100 && all.aw_stalls > 100 && all.w_stalls > 100, "stalls %llu %llu %llu",
           (unsigned long long)all.ar_stalls, (unsigned long long)all.aw_stalls, (unsigned long long)all.w_stalls);
    EXPECT(all.max_read_latency > 100, "max read latency %llu", (unsigned long long)all.max_read_latency);
    EXPECT(all.max_write_latency > 100, "max write latency %llu", (unsigned long long)all.max_write_latency);
    EXPECT(all.r_gaps > 100 && all.late_writes > 100, "gaps %llu, late writes %llu", (unsigned long long)all.r_gaps,
           (unsigned long long)all.late_writes);
    EXPECT(all.rready_stalls > 0 && all.bready_stalls > 0, "the master's back-pressure was seen");
}

// Random mode: a read of an address whose write has had its W handshake but not its B may return the
// old data (over 50 seeds, it does at least once), and after the B always returns the new data.
// The same in ideal mode returns the new data every time.
void random_read_before_b_sees_old_data() {
    const unsigned N = 8;
    int old_before_b = 0, trials = 0;
    for (uint64_t seed = 1; seed <= 50; ++seed) {
        for (bool random : {true, false}) {
            AxiMemoryOptions o{N, 0, 2};
            o.random = random;
            o.seed = seed;
            AxiMemory mem(o, std::vector<uint8_t>(4096, 0));
            enum { WRITE, READ1, WAIT_B, READ2, END } phase = WRITE;
            bool aw = false, w = false, b = false, ar = false, got1 = false;
            uint8_t first = 0, second = 0;
            for (uint64_t c = 0; phase != END; ++c) {
                EXPECT(c < 100000, "seed %llu: stuck", (unsigned long long)seed);
                const AxiSlaveOut s = mem.out();
                AxiMasterOut m;
                m.rready = true;
                m.bready = phase == WAIT_B;
                if (!aw) m.aw = req(0x40, 1, N);
                if (!w) m.wvalid = true, m.wdata.fill(0x5A), m.wstrb = 0xFF, m.wlast = true;
                if ((phase == READ1 || phase == READ2) && !ar) m.ar = req(0x40, 1, N);
                mem.edge(m);
                aw |= m.aw.valid && s.awready;
                w |= m.wvalid && s.wready;
                b |= s.bvalid && m.bready;
                ar |= m.ar.valid && s.arready;
                if (s.rvalid && phase == READ1) first = s.rdata[0], got1 = true, phase = WAIT_B, ar = false;
                else if (s.rvalid && phase == READ2) second = s.rdata[0], phase = END;
                if (phase == WRITE && aw && w) phase = READ1;
                if (phase == WAIT_B && got1 && b) phase = READ2;
            }
            EXPECT(second == 0x5A, "seed %llu: the read after B returned %u", (unsigned long long)seed, second);
            if (!random) EXPECT(first == 0x5A, "ideal: the read after the W handshake returned %u", first);
            if (random) old_before_b += first == 0, ++trials;
        }
    }
    EXPECT(old_before_b > 0 && old_before_b < trials, "old data before B in %d of %d seeds", old_before_b, trials);
}

// The same seed gives the same run; another seed another.
void random_is_deterministic() {
    auto fingerprint = [](uint64_t seed) {
        AxiMemoryOptions o{8, 0, 2};
        o.random = true;
        o.seed = seed;
        AxiMemory mem(o, std::vector<uint8_t>(4096, 0));
        uint64_t h = 0;
        run(mem, 3000, [&](uint64_t c, const AxiSlaveOut& s) {
            h = h * 31 + (s.arready | s.awready << 1 | s.wready << 2 | s.rvalid << 3 | s.bvalid << 4);
            AxiMasterOut m;
            m.rready = m.bready = true;
            if (c % 50 == 0 && s.arready) m.ar = req(0x100, 4, 8);
            return m;
        });
        return h;
    };
    EXPECT(fingerprint(7) == fingerprint(7), "seed 7 twice");
    EXPECT(fingerprint(7) != fingerprint(8), "seeds 7 and 8 alike");
}

// ---- protocol violations ----------------------------------------------------------------------

// Runs the script; the AxiProtocolError it must raise has to contain `what`.
void expect_violation(const AxiMemoryOptions& o, const char* what,
                      const std::function<AxiMasterOut(uint64_t, const AxiSlaveOut&)>& script) {
    AxiMemory mem(o, std::vector<uint8_t>(8192, 0));
    try {
        run(mem, 2000, script);
    } catch (const AxiProtocolError& e) {
        const std::string msg = e.what();
        EXPECT(msg.find(what) != std::string::npos, "message '%s' lacks '%s'", msg.c_str(), what);
        EXPECT(msg.find('\n') == std::string::npos && msg.rfind("AXI violation in cycle ", 0) == 0, "one line: %s",
               msg.c_str());
        return;
    }
    throw Failure(axi_format("no violation raised (wanted '%s')", what));
}

AxiMemoryOptions opts(bool random = false, unsigned max_burst = 256, bool decerr = true) {
    AxiMemoryOptions o{8, 0, 2};
    o.max_burst = max_burst;
    o.random = random;
    o.seed = 3;
    o.decerr = decerr;
    return o;
}

AxiMasterOut at(uint64_t c, uint64_t when, AxiAddr AxiMasterOut::*ch, AxiAddr a) {
    AxiMasterOut m;
    m.rready = m.bready = true;
    if (c == when) m.*ch = a;
    return m;
}

void violation_4k() {
    expect_violation(opts(), "crosses the 4 KiB boundary at 0x1000", [](uint64_t c, const AxiSlaveOut&) {
        return at(c, 1, &AxiMasterOut::ar, req(0x0FF8, 2, 8));
    });
    expect_violation(opts(), "AW at 0x1f00 (33 beats): crosses the 4 KiB boundary at 0x2000",
                     [](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::aw, req(0x1F00, 33, 8)); });
}

void violation_burst_length() {
    expect_violation(opts(false, 16), "(17 beats): longer than 16 beats",
                     [](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::ar, req(0, 17, 8)); });
    expect_violation(opts(), "(257 beats): longer than 256 beats",
                     [](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::aw, req(0, 257, 8)); });
}

void violation_unaligned() {
    expect_violation(opts(), "AR at 0x104 (1 beats): the address is not aligned to the 8-byte bus",
                     [](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::ar, req(0x104, 1, 8)); });
}

void violation_size_burst_cache_prot() {
    AxiAddr a = req(0x100, 1, 8);
    a.size = 2;
    expect_violation(opts(), "arsize is 2, not the bus width (3 = 8 bytes)",
                     [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::ar, a); });
    expect_violation(opts(), "awsize is 2", [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::aw, a); });
    AxiAddr f = req(0x100, 1, 8);
    f.burst = 0;
    expect_violation(opts(), "arburst is 0, not INCR (1)",
                     [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::ar, f); });
    f.burst = 2;
    expect_violation(opts(), "awburst is 2, not INCR (1)",
                     [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::aw, f); });
    AxiAddr k = req(0x100, 1, 8);
    k.cache = 0;
    expect_violation(opts(), "arcache is 0, not 0b0011",
                     [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::ar, k); });
    k.cache = AXI_CACHE;
    k.prot = 2;
    expect_violation(opts(), "awprot is 2, not 0", [&](uint64_t c, const AxiSlaveOut&) { return at(c, 1, &AxiMasterOut::aw, k); });
}

// wlast on beat 2 of 4; wlast missing on the last beat; the same with W ahead of AW; W ahead of any AW
// with no wlast for more beats than a burst may have.
void violation_wlast() {
    auto script = [](int wlast_beat, int aw_cycle, unsigned beats) {
        return [=](uint64_t c, const AxiSlaveOut&) {
            AxiMasterOut m;
            m.bready = true;
            if (int(c) == aw_cycle) m.aw = req(0x100, beats, 8);
            if (c >= 1 && c <= 4) m.wvalid = true, m.wstrb = 0xFF, m.wlast = int(c) == wlast_beat;
            return m;
        };
    };
    expect_violation(opts(), "W: wlast is 1 on beat 2 of a 4-beat burst (AW at 0x100)", script(2, 1, 4));
    expect_violation(opts(), "W: wlast is 0 on beat 4 of a 4-beat burst", script(0, 1, 4));
    expect_violation(opts(), "W: wlast is 0 on beat 2 of a 2-beat burst", script(0, 1, 2));
    expect_violation(opts(), "W: wlast is 1 on beat 2 of a 4-beat burst", script(2, 9, 4));  // W before AW
    expect_violation(opts(false, 4), "W: 4 beats without wlast (before their AW), more than a burst may have (4)",
                     [](uint64_t c, const AxiSlaveOut&) {
                         AxiMasterOut m;
                         if (c >= 1) m.wvalid = true, m.wstrb = 0xFF;
                         return m;
                     });
}

// In random mode the readies drop: the master lets a valid fall, or changes the payload, while ready is 0.
void violation_valid_dropped_or_changed() {
    struct Case {
        const char* what;
        int channel;  // 0 AR, 1 AW, 2 W
        bool drop;
    };
    for (const Case& k : {Case{"AR: arvalid dropped before arready (AR at 0x100)", 0, true},
                          Case{"AR: the payload changed before arready", 0, false},
                          Case{"AW: awvalid dropped before awready", 1, true},
                          Case{"AW: the payload changed before awready (AW at 0x100)", 1, false},
                          Case{"W: wvalid dropped before wready", 2, true},
                          Case{"W: wdata, wstrb or wlast changed before wready", 2, false}}) {
        bool stalled = false;
        expect_violation(opts(true), k.what, [&](uint64_t, const AxiSlaveOut& s) {
            AxiMasterOut m;
            const bool ready = k.channel == 0 ? s.arready : k.channel == 1 ? s.awready : s.wready;
            AxiAddr a = req(0x100, 1, 8);
            a.valid = !(stalled && k.drop);
            if (stalled && !k.drop) a.addr = 0x108;
            if (k.channel == 0) m.ar = a;
            if (k.channel == 1) m.aw = a;
            if (k.channel == 2) m.wvalid = a.valid, m.wstrb = 0xFF, m.wlast = true, m.wdata[0] = stalled;
            stalled |= !ready;  // from the next cycle on: the valid of this one was not taken
            return m;
        });
    }
}

// Outside [base, base + size): DECERR on every beat, rdata 0, nothing written (B DECERR); or, without the
// DECERR option, an AxiProtocolError.
void out_of_range_decerr() {
    AxiMemoryOptions o = opts();
    o.base = 0x10000;
    AxiMemory mem(o, std::vector<uint8_t>(4096, 0x77));  // [0x10000, 0x11000)
    std::vector<AxiSlaveOut> r, b;
    run(mem, 40, [&](uint64_t c, const AxiSlaveOut& s) {
        AxiMasterOut m;
        m.rready = m.bready = true;
        if (c == 1) m.ar = req(0xFFF0, 2, 8);    // below the base
        if (c == 2) m.ar = req(0x10FF8, 1, 8);   // the last word: inside
        if (c == 3) m.ar = req(0x11000, 2, 8);   // past the end
        if (c == 4) m.aw = req(0x11000, 1, 8), m.wvalid = true, m.wlast = true, m.wstrb = 0xFF, m.wdata.fill(1);
        if (c == 5) m.aw = req(0x10000, 1, 8), m.wvalid = true, m.wlast = true, m.wstrb = 0xFF, m.wdata.fill(2);
        if (s.rvalid) r.push_back(s);
        if (s.bvalid) b.push_back(s);
        return m;
    });
    EXPECT(r.size() == 5, "%zu R beats", r.size());
    const unsigned resp[] = {AXI_DECERR, AXI_DECERR, AXI_OKAY, AXI_DECERR, AXI_DECERR};
    for (int i = 0; i < 5; ++i) {
        EXPECT(r[i].rresp == resp[i] && r[i].rlast == (i != 0 && i != 3), "beat %d: rresp %u", i, r[i].rresp);
        EXPECT(r[i].rdata[0] == (resp[i] == AXI_OKAY ? 0x77 : 0), "beat %d: rdata %u", i, r[i].rdata[0]);
    }
    EXPECT(b.size() == 2 && b[0].bresp == AXI_DECERR && b[1].bresp == AXI_OKAY, "bresp");
    EXPECT(mem.bytes()[0] == 2 && mem.bytes()[8] == 0x77 && mem.stats().decerr_bursts == 3, "memory, decerr count");
}

// ---- the AXI4-Lite master ---------------------------------------------------------------------

// A 16-register slave with random readies and response delays.
struct LiteSlave {
    AxiRng rng;
    uint32_t regs[16] = {};
    bool aw = false, w = false, ar = false;
    uint32_t awaddr = 0, wdata = 0, araddr = 0;
    AxilSlaveOut out;
    uint64_t b_delay = 0, r_delay = 0;
    explicit LiteSlave(uint64_t seed) : rng(seed) { prepare(); }
    void prepare() {
        out.awready = !aw && !out.bvalid && rng.below(3);
        out.wready = !w && !out.bvalid && rng.below(3);
        out.arready = !ar && !out.rvalid && rng.below(3);
    }
    void edge(const AxilMasterOut& m) {
        if (out.bvalid && m.bready) out.bvalid = false;
        if (out.rvalid && m.rready) out.rvalid = false;
        if (m.awvalid && out.awready) aw = true, awaddr = m.awaddr;
        if (m.wvalid && out.wready) w = true, wdata = m.wdata;
        if (m.arvalid && out.arready) ar = true, araddr = m.araddr, r_delay = rng.range(0, 3);
        if (aw && w && !out.bvalid) {
            if (b_delay == 0) b_delay = rng.range(1, 4);
            if (--b_delay == 0) regs[awaddr / 4 % 16] = wdata, aw = w = false, out.bvalid = true;
        }
        if (ar && !out.rvalid && r_delay-- == 0) ar = false, out.rvalid = true, out.rdata = regs[araddr / 4 % 16];
        prepare();
    }
};

void lite_master_random() {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        for (bool random : {false, true}) {
            AxilMaster master(random, seed);
            LiteSlave slave(seed);
            uint64_t cycles = 0;
            auto step = [&] {
                const AxilSlaveOut s = slave.out;
                const AxilMasterOut m = master.out();
                master.edge(s);
                slave.edge(m);
                EXPECT(++cycles < 100000, "stuck");
            };
            for (uint32_t i = 0; i < 16; ++i) {
                master.write(4 * i, 0x1000 + i * seed);
                while (master.busy()) step();
                EXPECT(master.accepted() >= master.started(), "accepted %llu before started %llu",
                       (unsigned long long)master.accepted(), (unsigned long long)master.started());
            }
            for (uint32_t i = 0; i < 16; ++i) {
                master.read(4 * i);
                while (master.busy()) step();
                EXPECT(master.rdata() == 0x1000 + i * seed, "register %u: %08x", i, master.rdata());
            }
        }
    }
}

// A slave that answers without a request, or drops (changes) a response before the master's ready.
void lite_master_catches_the_slave() {
    auto expect = [](const char* what, bool read, const std::function<AxilSlaveOut(uint64_t, const AxilMasterOut&)>& slave) {
        AxilMaster master(true, 5);
        if (read) master.read(0x10);
        else master.write(0x10, 1);
        try {
            for (uint64_t c = 0; c < 200; ++c) master.edge(slave(c, master.out()));
        } catch (const AxilError& e) {
            EXPECT(std::string(e.what()).find(what) != std::string::npos, "'%s' lacks '%s'", e.what(), what);
            return;
        }
        throw Failure(axi_format("no AxilError (wanted '%s')", what));
    };
    expect("bvalid without an accepted write", false, [](uint64_t, const AxilMasterOut&) {
        AxilSlaveOut s;
        s.bvalid = true;
        return s;
    });
    expect("rvalid without an accepted read", true, [](uint64_t, const AxilMasterOut&) {
        AxilSlaveOut s;
        s.rvalid = true;
        return s;
    });
    // Accept the AR, present R in a cycle whose rready is 0, then drop it (or change rdata).
    for (bool drop : {true, false}) {
        bool accepted = false, refused = false;
        expect(drop ? "R: rvalid dropped before rready" : "R: rdata or rresp changed before rready", true,
               [&](uint64_t, const AxilMasterOut& m) {
                   AxilSlaveOut s;
                   s.arready = !accepted;
                   s.rvalid = accepted && (refused ? !drop : !m.rready);  // first shown while rready is 0
                   s.rdata = refused ? 2 : 1;
                   refused |= s.rvalid && !m.rready;
                   accepted |= m.arvalid;
                   return s;
               });
    }
}

const std::map<std::string, void (*)()> CASES = {
    {"ideal_read_timing", ideal_read_timing},
    {"ideal_write_timing", ideal_write_timing},
    {"ideal_write_visibility", ideal_write_visibility},
    {"random_integrity", random_integrity},
    {"random_adversary_shows_up", random_adversary_shows_up},
    {"random_read_before_b_sees_old_data", random_read_before_b_sees_old_data},
    {"random_is_deterministic", random_is_deterministic},
    {"violation_4k", violation_4k},
    {"violation_burst_length", violation_burst_length},
    {"violation_unaligned", violation_unaligned},
    {"violation_size_burst_cache_prot", violation_size_burst_cache_prot},
    {"violation_wlast", violation_wlast},
    {"violation_valid_dropped_or_changed", violation_valid_dropped_or_changed},
    {"out_of_range_decerr", out_of_range_decerr},
    {"lite_master_random", lite_master_random},
    {"lite_master_catches_the_slave", lite_master_catches_the_slave},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CASE|list\n", argv[0]);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "list") {
        for (const auto& kv : CASES) std::printf("%s\n", kv.first.c_str());
        return 0;
    }
    auto it = CASES.find(name);
    if (it == CASES.end()) {
        std::fprintf(stderr, "no case %s\n", name.c_str());
        return 2;
    }
    try {
        it->second();
    } catch (const std::exception& e) {
        std::printf("FAIL %s: %s\n", name.c_str(), e.what());
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
