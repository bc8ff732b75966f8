/**
 * The return area shared by every WASI import whose result does not fit in
 * one core value (`result<...>`, lists). The guest is single-threaded and
 * each wrapper decodes the area before it calls anything else, so one
 * static block serves all of them. 48 bytes, align 8: the largest result
 * used, `result<ip-socket-address, error-code>`, takes 36.
 */
export const RET: usize = memory.data(48, 8);
