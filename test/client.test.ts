// The shared client suite, over every transport that can listen in Node.
import { inProcessTransport } from '@kiln/core';
import { tcpTransport } from '@kiln/transport-tcp';
import { clientSuite } from './support/client-suite.js';

const inProcess = inProcessTransport();
clientSuite({ name: 'in-process', transport: () => inProcess, listenUrl: 'memory://client-suite' });
clientSuite({ name: 'tcp', transport: () => tcpTransport(), listenUrl: 'tcp://127.0.0.1:0' });
