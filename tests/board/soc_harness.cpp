// A Verilator harness for the simulated SoC of `dian build DIR --board sim` (module dian_soc): it
// holds sys_rst for 16 cycles, then serves requests from stdin, one at a time. A request is two
// little-endian u32, n_send and n_expect, then n_send bytes: the harness feeds those bytes to
// serial_sink_* (one per handshake) and writes to stdout the next n_expect bytes the SoC puts on
// serial_source_* (UARTBone's answers), then waits for the next request. Exit 0 at end of input;
// 3 when a request is not answered within LIMIT cycles.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "Vdian_soc.h"
#include "verilated.h"

static const uint64_t LIMIT = 50000000;

static Vdian_soc* top;
static uint64_t cycles = 0;

static void tick() {
    top->sys_clk = 0;
    top->eval();
    top->sys_clk = 1;
    top->eval();
    cycles++;
}

static bool read_u32(uint32_t* v) {
    unsigned char b[4];
    if (fread(b, 1, 4, stdin) != 4) return false;
    *v = b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
    return true;
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    top = new Vdian_soc;
    top->sim_trace = 0;
    top->serial_sink_valid = 0;
    top->serial_source_ready = 1;
    top->sys_rst = 1;
    for (int i = 0; i < 16; i++) tick();
    top->sys_rst = 0;
    for (int i = 0; i < 16; i++) tick();
    uint32_t n_send, n_expect;
    while (read_u32(&n_send) && read_u32(&n_expect)) {
        std::vector<unsigned char> send(n_send), got;
        if (n_send && fread(send.data(), 1, n_send, stdin) != n_send) return 2;
        size_t sent = 0;
        uint64_t start = cycles;
        while (sent < n_send || got.size() < n_expect) {
            top->serial_sink_valid = sent < n_send;
            top->serial_sink_data = sent < n_send ? send[sent] : 0;
            top->sys_clk = 0;
            top->eval();
            bool took = top->serial_sink_valid && top->serial_sink_ready;
            if (top->serial_source_valid && top->serial_source_ready) got.push_back(top->serial_source_data);
            top->sys_clk = 1;
            top->eval();
            cycles++;
            if (took) sent++;
            if (cycles - start > LIMIT) {
                fprintf(stderr, "request not answered within %llu cycles\n", (unsigned long long)LIMIT);
                return 3;
            }
        }
        top->serial_sink_valid = 0;
        fwrite(got.data(), 1, got.size(), stdout);
        fflush(stdout);
    }
    fprintf(stderr, "cycles %llu\n", (unsigned long long)cycles);
    delete top;
    return 0;
}
