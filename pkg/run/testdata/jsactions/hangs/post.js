const { spawn } = require('node:child_process');
const fs = require('node:fs');
spawn('sh', ['-c', `exec sleep ${process.env.INPUT_MARKER}`], { detached: true, stdio: 'ignore' }).unref();
console.log('post of hangs started');
fs.writeFileSync(process.env.INPUT_SIGNAL, '');
setInterval(() => {}, 1000);
