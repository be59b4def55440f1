// A cycle-based AXI4 slave memory (single ID, INCR bursts) for the dian Verilator harness.
// Shipped by dian as package data (rtl_templates/axi_memory.h); plain C++17, no Verilator types,
// so tests/hwgen/tools/axi_memory_test.cpp drives it from g++ alone.
//
// Use, once per clock cycle:
//   1. put out() (this slave's outputs for the current cycle) on the master's inputs;
//   2. let the master's combinational logic settle, sample its outputs into an AxiMasterOut;
//   3. edge(sampled): the rising edge that ends the cycle. Handshakes are the cycles in which
//      valid and ready are both 1. edge() throws AxiProtocolError, a one-line message, when the
//      master breaks the protocol or the bus contract (dian's docs/accelerator.md, issue 13 spec).
// Cycle c is the c-th cycle after construction (cycle 0 first); "the edge ending cycle c" is edge c.
//
// Ideal mode (the reference that sim/machine and the cost model are exact for; lambda = latency):
//   * arready, awready and wready are 1 in every cycle;
//   * a read burst whose AR handshake is at edge t presents beat k (rvalid=1) in cycle
//     max(t + lambda + k, h + 1), h = the cycle of the previous R handshake (of any burst; responses in
//     order); a beat stays, unchanged, until rready. Its data is the memory as it is in the first cycle
//     the beat is presented, i.e. after every write applied at an earlier edge;
//   * a W beat is applied to memory at its handshake edge, or, for a beat that came before its burst's
//     AW, at the AW handshake edge; bytes whose wstrb bit is 0 are left alone;
//   * a write burst's B (OKAY) is presented in cycle max(w + lambda, a + 1, h + 1): w = the cycle of
//     its last W handshake, a = of its AW handshake, h = of the previous B handshake (B in order);
//     it stays until bready.
// Random mode (seeded; the same seed gives the same run): every one of arready, awready and wready
// drops at random (single cycles and runs of up to 40 cycles); each read burst's latency is
// lambda plus a long-tailed extra (mostly 0..2, sometimes 21..100, rarely 101..400 cycles); beats of
// a burst come with random gaps; each B comes lambda plus a long-tailed extra after the last W beat;
// each W beat is applied at a random edge between its handshake and its B (in handshake order, never
// before its AW), so a master that reads an address before the write's B may see the old data.
// Nothing is ever earlier than in ideal mode.
//
// Checked on the master (AxiProtocolError): AxBURST not INCR, AxSIZE not the bus width, AxCACHE not
// 0b0011, AxPROT not 0, an address not aligned to the bus width, a burst longer than max_burst
// beats, a burst crossing a 4 KiB boundary, WLAST on the wrong beat, a valid dropped or its payload
// changed before ready. An access outside [base, base + size) answers DECERR on every beat (rdata 0,
// nothing written), or, with decerr = false, is an AxiProtocolError too.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dian {

constexpr unsigned AXI_MAX_BYTES = 32;  // a 256-bit bus
using AxiBeat = std::array<uint8_t, AXI_MAX_BYTES>;
enum AxiResp : unsigned { AXI_OKAY = 0, AXI_SLVERR = 2, AXI_DECERR = 3 };
constexpr unsigned AXI_BURST_INCR = 1, AXI_CACHE = 0x3, AXI_PROT = 0;

class AxiProtocolError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// printf into a std::string (the one-line error messages).
template <typename... Args> std::string axi_format(const char* fmt, Args... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

// splitmix64: small, fast, and the same sequence on every platform (std::*_distribution are not).
class AxiRng {
  public:
    explicit AxiRng(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }
    uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }  // inclusive
    bool one_in(uint64_t n) { return below(n) == 0; }
    // Long-tailed extra latency: 60 % 0..2, 30 % 3..20, 8 % 21..100, 2 % 101..400 cycles.
    uint64_t long_tail() {
        const uint64_t u = below(100);
        return u < 60 ? range(0, 2) : u < 90 ? range(3, 20) : u < 98 ? range(21, 100) : range(101, 400);
    }

  private:
    uint64_t s_;
};

// One address channel's payload as the master drives it (len is AxLEN: beats - 1).
struct AxiAddr {
    bool valid = false;
    uint64_t addr = 0;
    unsigned len = 0, size = 0, burst = AXI_BURST_INCR, cache = AXI_CACHE, prot = AXI_PROT;
    bool operator==(const AxiAddr& o) const {
        return addr == o.addr && len == o.len && size == o.size && burst == o.burst && cache == o.cache && prot == o.prot;
    }
};

// The master's outputs in one cycle.
struct AxiMasterOut {
    AxiAddr ar;
    bool rready = false;
    AxiAddr aw;
    bool wvalid = false;
    AxiBeat wdata{};
    uint32_t wstrb = 0;
    bool wlast = false;
    bool bready = false;
};

// The slave's (this memory's) outputs in one cycle.
struct AxiSlaveOut {
    bool arready = false, awready = false, wready = false;
    bool rvalid = false;
    AxiBeat rdata{};
    unsigned rresp = AXI_OKAY;
    bool rlast = false;
    bool bvalid = false;
    unsigned bresp = AXI_OKAY;
};

struct AxiMemoryOptions {
    unsigned bus_bytes = 8;  // 1..32, a power of two
    uint64_t base = 0;       // the byte address of the memory's first byte
    unsigned latency = 1;    // lambda, >= 1
    unsigned max_burst = 256;
    bool decerr = true;  // outside the memory: DECERR (true) or AxiProtocolError (false)
    bool random = false;
    uint64_t seed = 0;
};

struct AxiMemoryStats {
    uint64_t read_bursts = 0, read_beats = 0, write_bursts = 0, write_beats = 0, decerr_bursts = 0;
    uint64_t ar_stalls = 0, aw_stalls = 0, w_stalls = 0;  // cycles the master's valid was 1 and this ready 0
    uint64_t ready_drops = 0;                             // cycles in which any of the three readies was 0
    uint64_t r_wait = 0;         // cycles with a read burst outstanding and rvalid 0 (latency and gaps)
    uint64_t b_wait = 0;         // cycles with a burst's W complete and its B not yet presented
    uint64_t r_gaps = 0;         // beats presented later than one cycle after the previous R handshake of their burst
    uint64_t rready_stalls = 0, bready_stalls = 0;  // rvalid (bvalid) 1 and the master's rready (bready) 0
    uint64_t max_read_latency = 0;  // the most cycles from an AR handshake to the cycle its first beat was presented
    uint64_t max_write_latency = 0;  // the most cycles from a last W handshake to the cycle its B was presented
    uint64_t late_writes = 0;        // W beats applied after their handshake edge (random mode)
};

class AxiMemory {
  public:
    AxiMemory(const AxiMemoryOptions& opt, std::vector<uint8_t> bytes)
        : opt_(opt), mem_(std::move(bytes)), rng_(opt.seed * 0x2545F4914F6CDD1Dull + 1) {
        if (opt_.bus_bytes < 1 || opt_.bus_bytes > AXI_MAX_BYTES || (opt_.bus_bytes & (opt_.bus_bytes - 1)))
            throw std::invalid_argument(axi_format("bus_bytes %u is not a power of two 1..32", opt_.bus_bytes));
        if (opt_.latency < 1) throw std::invalid_argument("the latency must be >= 1 cycle");
        if (opt_.max_burst < 1 || opt_.max_burst > 256) throw std::invalid_argument("max_burst must be 1..256");
        while ((1u << size_) < opt_.bus_bytes) ++size_;
        if (opt_.random)
            for (auto& p : drop_per_mille_) p = rng_.range(30, 400);
        prepare();
    }

    const AxiSlaveOut& out() const { return out_; }
    uint64_t cycle() const { return cycle_; }
    const AxiMemoryStats& stats() const { return stats_; }
    std::vector<uint8_t>& bytes() { return mem_; }
    uint64_t reads_outstanding() const { return reads_.size(); }
    uint64_t writes_outstanding() const { return writes_.size() + (early_.empty() ? 0 : 1); }
    // No burst outstanding, no W beat waiting for its AW, every write applied.
    bool idle() const { return reads_.empty() && writes_.empty() && early_.empty() && pending_.empty(); }

    void edge(const AxiMasterOut& m) {
        const uint64_t c = cycle_;
        check_stable(m);
        const bool ar_hs = m.ar.valid && out_.arready, aw_hs = m.aw.valid && out_.awready;
        const bool w_hs = m.wvalid && out_.wready;
        stats_.ar_stalls += m.ar.valid && !out_.arready;
        stats_.aw_stalls += m.aw.valid && !out_.awready;
        stats_.w_stalls += m.wvalid && !out_.wready;
        stats_.ready_drops += !out_.arready || !out_.awready || !out_.wready;
        stats_.r_wait += !reads_.empty() && !out_.rvalid;
        stats_.b_wait += !out_.bvalid && !writes_.empty() && writes_.front().w_done;

        if (out_.rvalid && m.rready) {  // R handshake
            Read& r = reads_.front();
            ++stats_.read_beats;
            r_free_ = c + 1;
            r_presented_ = false;
            if (++r.beat == r.beats) {
                reads_.pop_front();
            } else {
                r.next = opt_.random ? c + 1 + gap() : std::max(r.t + opt_.latency + r.beat, c + 1);
            }
        } else if (out_.rvalid) {
            ++stats_.rready_stalls;
        }
        if (out_.bvalid && m.bready) {  // B handshake
            writes_.pop_front();
            b_presented_ = false;
        } else if (out_.bvalid) {
            ++stats_.bready_stalls;
        }
        if (ar_hs) {
            const bool bad = check_request(true, m.ar);
            const uint64_t extra = opt_.random ? rng_.long_tail() : 0;
            reads_.push_back(Read{m.ar.addr, m.ar.len + 1u, bad, c, c + opt_.latency + extra, 0});
            ++stats_.read_bursts;
        }
        if (aw_hs) {
            const bool bad = check_request(false, m.aw);
            writes_.push_back(Write{m.aw.addr, m.aw.len + 1u, bad, c});
            ++stats_.write_bursts;
            // W beats that came before this AW belong to it (W is in AW order); the rest wait on.
            while (!early_.empty() && target() != nullptr) {
                take_beat(early_.front(), c);
                early_.pop_front();
            }
        }
        if (w_hs) {
            Beat b{m.wdata, m.wstrb, m.wlast, c};
            if (target() == nullptr) {
                early_open_ = early_.empty() || early_.back().last ? 1 : early_open_ + 1;
                if (early_open_ >= opt_.max_burst && !b.last)
                    throw AxiProtocolError(axi_format(
                        "AXI violation in cycle %llu: W: %u beats without wlast (before their AW), more than a "
                        "burst may have (%u)", (unsigned long long)c, early_open_, opt_.max_burst));
                early_.push_back(b);
            } else {
                take_beat(b, c);
            }
        }
        while (!pending_.empty() && pending_.front().at <= c) {  // random mode: writes due at this edge
            apply(pending_.front());
            pending_.pop_front();
        }
        prev_ = m;
        prev_out_ = out_;
        cycle_ = c + 1;
        prepare();
    }

  private:
    struct Read {
        uint64_t addr;
        unsigned beats;
        bool decerr;
        uint64_t t;     // the AR handshake's cycle
        uint64_t next;  // the earliest cycle of the next beat (its own schedule)
        unsigned beat;  // beats handed over so far
    };
    struct Write {
        uint64_t addr;
        unsigned beats;
        bool decerr;
        uint64_t a;  // the AW handshake's cycle
        unsigned got = 0;
        bool w_done = false;
        uint64_t w_last = 0;  // its last W handshake's cycle
        uint64_t b_at = 0;    // the earliest cycle of its B
    };
    struct Beat {
        AxiBeat data;
        uint32_t strb;
        bool last;
        uint64_t cycle;  // its W handshake
    };
    struct Pending {
        uint64_t at;  // the edge it is applied at
        uint64_t addr;
        AxiBeat data;
        uint32_t strb;
    };

    // Random gap before a beat that is not a burst's first: mostly none.
    uint64_t gap() {
        const uint64_t u = rng_.below(100);
        return u < 70 ? 0 : u < 97 ? rng_.range(1, 4) : rng_.range(5, 60);
    }

    Write* target() {  // the oldest accepted AW whose W beats are not all in
        for (Write& w : writes_)
            if (!w.w_done) return &w;
        return nullptr;
    }

    void take_beat(const Beat& b, uint64_t c) {
        Write& w = *target();
        const unsigned k = w.got++;
        const bool last = k + 1 == w.beats;
        if (b.last != last)
            throw AxiProtocolError(axi_format(
                "AXI violation in cycle %llu: W: wlast is %d on beat %u of a %u-beat burst (AW at 0x%llx)",
                (unsigned long long)b.cycle, (int)b.last, k + 1, w.beats, (unsigned long long)w.addr));
        ++stats_.write_beats;
        if (!w.decerr) {
            Pending p{c, w.addr + uint64_t(k) * opt_.bus_bytes, b.data, b.strb};
            if (opt_.random) {
                const uint64_t u = rng_.below(100);
                p.at = std::max(c + (u < 50 ? 0 : u < 95 ? rng_.range(1, 8) : rng_.range(9, 120)), last_apply_);
                last_apply_ = p.at;
            }
            stats_.late_writes += p.at > b.cycle;
            if (p.at <= c && pending_.empty())
                apply(p);
            else
                pending_.push_back(p);
        }
        if (last) {
            w.w_done = true;
            w.w_last = b.cycle;
            uint64_t at = std::max(b.cycle + opt_.latency, w.a + 1);
            if (opt_.random) at = std::max(at + rng_.long_tail(), last_apply_ + 1);
            w.b_at = at;
        }
    }

    void apply(const Pending& p) {
        const uint64_t off = p.addr - opt_.base;
        for (unsigned i = 0; i < opt_.bus_bytes; ++i)
            if (p.strb >> i & 1) mem_[off + i] = p.data[i];
    }

    // The request's checks; whether it is outside the memory (answered DECERR).
    bool check_request(bool read, const AxiAddr& a) {
        const unsigned long long c = cycle_, addr = a.addr;
        const unsigned beats = a.len + 1;
        const char* ch = read ? "ar" : "aw";
        auto fail = [&](const std::string& what) {
            throw AxiProtocolError(axi_format("AXI violation in cycle %llu: %s at 0x%llx (%u beats): %s", c,
                                              read ? "AR" : "AW", addr, beats, what.c_str()));
        };
        if (a.burst != AXI_BURST_INCR) fail(axi_format("%sburst is %u, not INCR (1)", ch, a.burst));
        if (a.size != size_)
            fail(axi_format("%ssize is %u, not the bus width (%u = %u bytes)", ch, a.size, size_, opt_.bus_bytes));
        if (a.cache != AXI_CACHE) fail(axi_format("%scache is %u, not 0b0011", ch, a.cache));
        if (a.prot != AXI_PROT) fail(axi_format("%sprot is %u, not 0", ch, a.prot));
        if (addr % opt_.bus_bytes) fail(axi_format("the address is not aligned to the %u-byte bus", opt_.bus_bytes));
        if (beats > opt_.max_burst) fail(axi_format("longer than %u beats", opt_.max_burst));
        const uint64_t end = addr + uint64_t(beats) * opt_.bus_bytes;
        if ((addr >> 12) != ((end - 1) >> 12))
            fail(axi_format("crosses the 4 KiB boundary at 0x%llx", (unsigned long long)((end - 1) >> 12 << 12)));
        const bool outside = addr < opt_.base || end > opt_.base + mem_.size();
        if (outside) {
            if (!opt_.decerr)
                fail(axi_format("outside the memory [0x%llx, 0x%llx)", (unsigned long long)opt_.base,
                                (unsigned long long)(opt_.base + mem_.size())));
            ++stats_.decerr_bursts;
        }
        return outside;
    }

    // AXI: once valid is 1, it stays 1 with the same payload until the handshake.
    void check_stable(const AxiMasterOut& m) const {
        const unsigned long long c = cycle_;
        if (prev_.ar.valid && !prev_out_.arready && !(m.ar.valid && m.ar == prev_.ar))
            throw AxiProtocolError(axi_format("AXI violation in cycle %llu: AR: %s before arready (AR at 0x%llx)", c,
                                              m.ar.valid ? "the payload changed" : "arvalid dropped",
                                              (unsigned long long)prev_.ar.addr));
        if (prev_.aw.valid && !prev_out_.awready && !(m.aw.valid && m.aw == prev_.aw))
            throw AxiProtocolError(axi_format("AXI violation in cycle %llu: AW: %s before awready (AW at 0x%llx)", c,
                                              m.aw.valid ? "the payload changed" : "awvalid dropped",
                                              (unsigned long long)prev_.aw.addr));
        if (prev_.wvalid && !prev_out_.wready) {
            bool same = m.wvalid && m.wstrb == prev_.wstrb && m.wlast == prev_.wlast;
            for (unsigned i = 0; same && i < opt_.bus_bytes; ++i) same = m.wdata[i] == prev_.wdata[i];
            if (!same)
                throw AxiProtocolError(axi_format("AXI violation in cycle %llu: W: %s before wready", c,
                                                  m.wvalid ? "wdata, wstrb or wlast changed" : "wvalid dropped"));
        }
    }

    // This slave's outputs for cycle_ (registered: they depend on nothing the master does in it).
    void prepare() {
        const uint64_t c = cycle_;
        if (opt_.random) {
            bool* readies[3] = {&out_.arready, &out_.awready, &out_.wready};
            for (int i = 0; i < 3; ++i) {
                if (stall_left_[i] == 0 && rng_.one_in(200)) stall_left_[i] = rng_.range(1, 40);
                if (stall_left_[i]) {
                    --stall_left_[i];
                    *readies[i] = false;
                } else {
                    *readies[i] = rng_.below(1000) >= drop_per_mille_[i];
                }
            }
        } else {
            out_.arready = out_.awready = out_.wready = true;
        }
        if (!r_presented_ && !reads_.empty()) {
            Read& r = reads_.front();
            if (c >= std::max(r.next, r_free_)) {
                out_.rvalid = true;
                out_.rresp = r.decerr ? AXI_DECERR : AXI_OKAY;
                out_.rlast = r.beat + 1 == r.beats;
                out_.rdata.fill(0);
                if (!r.decerr) {
                    const uint64_t off = r.addr - opt_.base + uint64_t(r.beat) * opt_.bus_bytes;
                    for (unsigned i = 0; i < opt_.bus_bytes; ++i) out_.rdata[i] = mem_[off + i];
                }
                if (r.beat == 0) stats_.max_read_latency = std::max(stats_.max_read_latency, c - r.t);
                else if (c > r_free_) ++stats_.r_gaps;
                r_presented_ = true;
            }
        }
        if (!r_presented_) {
            out_.rvalid = false;
            out_.rlast = false;
            out_.rresp = AXI_OKAY;
        }
        if (!b_presented_ && !writes_.empty() && writes_.front().w_done && c >= writes_.front().b_at) {
            const Write& w = writes_.front();
            out_.bvalid = true;
            out_.bresp = w.decerr ? AXI_DECERR : AXI_OKAY;
            b_presented_ = true;
            stats_.max_write_latency = std::max(stats_.max_write_latency, c - w.w_last);
        }
        if (!b_presented_) {
            out_.bvalid = false;
            out_.bresp = AXI_OKAY;
        }
    }

    AxiMemoryOptions opt_;
    std::vector<uint8_t> mem_;
    AxiRng rng_;
    unsigned size_ = 0;  // log2(bus_bytes)
    uint64_t cycle_ = 0;
    AxiSlaveOut out_;
    AxiMasterOut prev_;
    AxiSlaveOut prev_out_;
    std::deque<Read> reads_;
    std::deque<Write> writes_;  // accepted AWs whose B has not been accepted
    std::deque<Beat> early_;    // W beats that came before their AW
    unsigned early_open_ = 0;   // of them, the beats since the last wlast
    std::deque<Pending> pending_;
    uint64_t r_free_ = 0;      // the cycle after the last R handshake: no beat is presented before it
    uint64_t last_apply_ = 0;  // random mode: the latest edge a W beat is applied at (they go in order)
    bool r_presented_ = false, b_presented_ = false;
    uint64_t stall_left_[3] = {0, 0, 0};
    uint64_t drop_per_mille_[3] = {0, 0, 0};
    AxiMemoryStats stats_;
};

}  // namespace dian
