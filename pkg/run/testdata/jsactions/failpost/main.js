console.log('main of failpost');
