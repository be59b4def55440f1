// A cycle-based AXI4-Lite master (32-bit data) for the dian Verilator harness: one register write
// or read at a time. Shipped by dian as package data (rtl_templates/axil_master.h); plain C++17.
//
// Use, once per clock cycle, as AxiMemory (axi_memory.h): put out() on the slave's inputs, let it
// settle, sample its outputs into an AxilSlaveOut, call edge(sampled) for the rising edge. Start a
// transaction with write() or read() while !busy(); it is presented from the next cycle on.
//
// Timing. Plain: AWVALID and WVALID (or ARVALID) rise together in the first cycle, BREADY (RREADY)
// is 1 throughout. Random (seeded): AWVALID and WVALID each rise after 0..3 cycles, independently,
// and BREADY (RREADY) is 1 in a random two thirds of the cycles. A valid, once 1, stays 1 with the
// same payload until its handshake, as AXI wants.
//
// The slave is checked (AxilError, a one-line message): BVALID (RVALID) only after the request was
// accepted at an earlier edge, and held with the same response (and data) until BREADY (RREADY).
#pragma once

#include "axi_memory.h"

namespace dian {

class AxilError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct AxilMasterOut {
    bool awvalid = false;
    uint32_t awaddr = 0;
    bool wvalid = false;
    uint32_t wdata = 0;
    uint32_t wstrb = 0;
    bool bready = false;
    bool arvalid = false;
    uint32_t araddr = 0;
    bool rready = false;
};

struct AxilSlaveOut {
    bool awready = false, wready = false, bvalid = false;
    unsigned bresp = 0;
    bool arready = false, rvalid = false;
    uint32_t rdata = 0;
    unsigned rresp = 0;
};

class AxilMaster {
  public:
    explicit AxilMaster(bool random = false, uint64_t seed = 0) : random_(random), rng_(seed ^ 0xA5A5A5A5A5A5A5A5ull) {}

    bool busy() const { return op_ != Op::None; }
    const AxilMasterOut& out() const { return out_; }
    uint64_t cycle() const { return cycle_; }
    // The last completed read's data and response, or the last write's response.
    uint32_t rdata() const { return rdata_; }
    unsigned resp() const { return resp_; }
    // The edge at which the current or last write was accepted: the later of its AW and W handshakes.
    uint64_t accepted() const { return accepted_; }
    // The cycle the current or last transaction was first presented in.
    uint64_t started() const { return started_; }

    void write(uint32_t addr, uint32_t data, uint32_t strb = 0xF) {
        begin(Op::Write);
        out_.awaddr = addr;
        out_.wdata = data;
        out_.wstrb = strb;
        aw_wait_ = random_ ? rng_.range(0, 3) : 0;
        w_wait_ = random_ ? rng_.range(0, 3) : 0;
        present();
    }

    void read(uint32_t addr) {
        begin(Op::Read);
        out_.araddr = addr;
        aw_wait_ = random_ ? rng_.range(0, 3) : 0;
        present();
    }

    void edge(const AxilSlaveOut& s) {
        const unsigned long long c = cycle_;
        if (prev_.bvalid && !out_prev_.bready && !(s.bvalid && s.bresp == prev_.bresp))
            throw AxilError(axi_format("AXI-Lite violation in cycle %llu: B: %s before bready", c,
                                       s.bvalid ? "bresp changed" : "bvalid dropped"));
        if (prev_.rvalid && !out_prev_.rready && !(s.rvalid && s.rresp == prev_.rresp && s.rdata == prev_.rdata))
            throw AxilError(axi_format("AXI-Lite violation in cycle %llu: R: %s before rready", c,
                                       s.rvalid ? "rdata or rresp changed" : "rvalid dropped"));
        const bool write = op_ == Op::Write, read = op_ == Op::Read;
        if (s.bvalid && !(write && aw_done_ && w_done_))
            throw AxilError(axi_format("AXI-Lite violation in cycle %llu: bvalid without an accepted write", c));
        if (s.rvalid && !(read && aw_done_))
            throw AxilError(axi_format("AXI-Lite violation in cycle %llu: rvalid without an accepted read", c));
        if (write && s.bvalid && out_.bready) {
            resp_ = s.bresp;
            op_ = Op::None;
        } else if (read && s.rvalid && out_.rready) {
            resp_ = s.rresp;
            rdata_ = s.rdata;
            op_ = Op::None;
        }
        if (write) {
            const bool before = aw_done_ && w_done_;
            aw_done_ |= out_.awvalid && s.awready;
            w_done_ |= out_.wvalid && s.wready;
            if (!before && aw_done_ && w_done_) accepted_ = c;
        } else if (read) {
            aw_done_ |= out_.arvalid && s.arready;
        }
        prev_ = s;
        out_prev_ = out_;
        ++cycle_;
        if (aw_wait_) --aw_wait_;
        if (w_wait_) --w_wait_;
        present();
    }

  private:
    enum class Op { None, Write, Read };

    void begin(Op op) {
        if (busy()) throw std::logic_error("AxilMaster: a transaction is already under way");
        op_ = op;
        aw_done_ = w_done_ = false;
        started_ = cycle_;
    }

    void present() {
        const bool write = op_ == Op::Write, read = op_ == Op::Read;
        out_.awvalid = write && !aw_done_ && aw_wait_ == 0;
        out_.wvalid = write && !w_done_ && w_wait_ == 0;
        out_.arvalid = read && !aw_done_ && aw_wait_ == 0;
        const bool ready = !random_ || rng_.below(3) != 0;
        out_.bready = write && ready;
        out_.rready = read && ready;
    }

    bool random_;
    AxiRng rng_;
    Op op_ = Op::None;
    bool aw_done_ = false, w_done_ = false;  // AW (AR for a read) and W accepted
    uint64_t aw_wait_ = 0, w_wait_ = 0;      // cycles before AWVALID (ARVALID), WVALID rise
    uint64_t cycle_ = 0, started_ = 0, accepted_ = 0;
    uint32_t rdata_ = 0;
    unsigned resp_ = 0;
    AxilMasterOut out_;
    AxilMasterOut out_prev_;
    AxilSlaveOut prev_;
};

}  // namespace dian
