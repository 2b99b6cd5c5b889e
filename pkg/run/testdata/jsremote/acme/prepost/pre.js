const fs = require('node:fs');
console.log(`pre ran for ${process.env.INPUT_WHO} repo=${process.env.GITHUB_ACTION_REPOSITORY} ref=${process.env.GITHUB_ACTION_REF}`);
fs.appendFileSync(process.env.GITHUB_STATE, 'from-pre=saved in pre\n');
