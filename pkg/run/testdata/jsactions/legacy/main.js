console.log('legacy ran on ' + process.version);
