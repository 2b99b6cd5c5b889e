const fs = require('node:fs');
console.log(`main sees [${process.env['STATE_from-pre']}]`);
fs.appendFileSync(process.env.GITHUB_STATE, 'from-main=saved in main\n');
