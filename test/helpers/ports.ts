// Ports on 127.0.0.1 that were free a moment ago, for child processes and servers that need a
// fixed port number (tests never use the protocol's default ports: others run beside them).
// One definition for tests and benchmarks: the benchmarks' (tsc compiles native-free-bench/,
// not test/, so the tests take it from there).
export { freeTcpPort, freeUdpPort } from '../../native-free-bench/free-ports.js';
